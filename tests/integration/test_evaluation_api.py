"""Evaluation reports and threshold calibration through the API and the dashboard's routes: every
role reads reports, the content check notices a figure edited behind the platform's back, the
Markdown and HTML exports carry the key figures and keep hostile text as text, and a supervisor
previews and sets a watchlist's threshold from a report (refused for other roles, other zones,
rates the data cannot resolve, another model and video reports)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from backend.accounts.roles import ALL_ROLES, Role
from backend.audit.models import AuditEvent
from backend.evaluation import services
from backend.evaluation.models import EvaluationReport, ThresholdCalibration
from backend.evaluation.render import md_escape
from backend.watchlists.models import Watchlist
from tests.factories import (
    TEST_MODEL_VERSION,
    evaluation_figures,
    photo_make,
    report_make,
    subject_make,
    template_make,
    watchlist_make,
)
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REPORTS = "/api/v1/evaluation/reports/"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_NOTE = "<img src=x onerror=alert(2)> [click](javascript:alert(3))"
# Key figures of tests/fixtures/evaluation_figures_images.json, as every output shows them.
TPIR_AT_1E3 = "85.33% [78.64%, 90.57%] (128/150)"
FAR_AT_1E3 = "0.088% [0.050%, 0.14%] (16/18,194)"
NOT_RESOLVABLE_FPIR = "not resolvable (needs ≥ 29,956 non-mated searches, have 4,800)"
NOT_RESOLVABLE_FAR = "not resolvable (needs ≥ 29,956 impostor pairs, have 18,194)"
# Threshold for FPIR 1e-3 on a list of 2 templates: FAR 1 - (1 - 1e-3)^(1/2) = 5.0025e-4 per
# comparison, i.e. at most 1,000 of the fixture's 2,000,000 non-mated scores may reach it; the
# stored tail falls evenly from 0.97 to 0.86 over 3,000 scores, so the 1,001st is 0.933321.
THRESHOLD_2_TEMPLATES = 0.9333


def as_user(user: Any) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    login_verified(client, user)
    return client


@pytest.fixture
def supervisor(users_by_role):  # type: ignore[no-untyped-def]
    return users_by_role[Role.SUPERVISOR]


@pytest.fixture
def report(supervisor) -> EvaluationReport:  # type: ignore[no-untyped-def]
    figures = evaluation_figures("images")
    figures["notes"].append(HOSTILE_NOTE)
    return report_make(title=f"Q4 run {HOSTILE}", created_by=supervisor, figures=figures)


def listed_watchlist(zone, supervisor, officer, *, templates: int = 2, model_version: str = TEST_MODEL_VERSION):  # type: ignore[no-untyped-def]
    """A watchlist with `templates` active listings, one template each."""
    watchlist = watchlist_make(zone=zone, created_by=supervisor, name=f"Wanted {zone.code}")
    rng = np.random.default_rng(templates)
    for number in range(templates):
        subject = subject_make(
            watchlist=watchlist,
            created_by=officer,
            approved_by=supervisor,
            status="active",
            full_name=f"Person {number}",
        )
        photo = photo_make(subject=subject, created_by=officer)
        template_make(photo=photo, embedding=rng.normal(size=128), model_version=model_version)
    return watchlist


@pytest.fixture
def north_list(users_by_role, zones) -> Watchlist:  # type: ignore[no-untyped-def]
    return listed_watchlist(zones["north"], users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER])


def calibrate(client, watchlist: Watchlist, report: EvaluationReport, target: float = 1e-3, apply: bool = False):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/watchlists/{watchlist.pk}/calibrate/",
        {"report": report.pk, "target_fpir": target, "apply": apply},
        format="json",
    )


# --------------------------------------------------------------------------- reading reports


def test_every_role_lists_and_reads_reports_and_their_det_curve(report, client_as) -> None:  # type: ignore[no-untyped-def]
    video = report_make(kind="video", title="Composed street clips")
    for role in ALL_ROLES:
        client = client_as(role)
        listing = client.get(REPORTS)
        assert listing.status_code == 200, role
        rows = listing.json()["results"]
        assert [row["id"] for row in rows] == [video.pk, report.pk]  # newest first
        assert set(rows[1]) == {
            "id",
            "kind",
            "title",
            "model_version",
            "created_at",
            "created_by",
            "duration_s",
            "sha256",
        }
        assert rows[1]["created_by"] == "supervisor-user" and rows[0]["created_by"] is None
        assert rows[1]["sha256"] == report.sha256 and rows[1]["kind"] == "images"

        detail = client.get(f"{REPORTS}{report.pk}/")
        assert detail.status_code == 200, role
        body = detail.json()
        assert body["verified"] is True
        assert body["figures"]["identification"][0]["rank1"]["count"] == 138
        assert body["data"]["sets"][0]["identities"] == 44
        assert body["options"]["seed"] == 7
        assert body["calibrations"] == []
        assert body["det_png_url"] == f"{REPORTS}{report.pk}/det.png"

        det = client.get(body["det_png_url"])
        assert det.status_code == 200 and det["Content-Type"] == "image/png"
        assert det.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert det.content == bytes(report.det_png)

    assert client_as(None).get(REPORTS).status_code == 401
    assert client_as(Role.AUDITOR).get(f"{REPORTS}{report.pk + 1000}/").json()["code"] == "not_found"
    assert client_as(Role.AUDITOR).get(f"{REPORTS}?kind=video").json()["count"] == 1


def test_a_figure_changed_behind_the_platforms_back_no_longer_verifies(report, client_as) -> None:  # type: ignore[no-untyped-def]
    auditor = client_as(Role.AUDITOR)
    assert auditor.get(f"{REPORTS}{report.pk}/").json()["verified"] is True
    figures = dict(report.figures)
    figures["identification"][0]["rank1"]["count"] = 149  # a better rank-1 than was measured
    EvaluationReport.objects.filter(pk=report.pk).update(figures=figures)

    assert auditor.get(f"{REPORTS}{report.pk}/").json()["verified"] is False
    page = auditor.get(f"/evaluation/{report.pk}/").content.decode()
    assert 'data-verified="false"' in page and "NOT VERIFIED" in page
    assert "NOT VERIFIED" in auditor.get(f"/evaluation/{report.pk}/report.md").content.decode()

    EvaluationReport.objects.filter(pk=report.pk).update(det_png=b"\x89PNG another image")
    report.refresh_from_db()
    assert services.report_verify(report) is False


# --------------------------------------------------------------------------- pages and exports


def test_pages_show_the_report_with_hostile_text_kept_as_text(report, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as(Role.COMMISSIONER)
    listing = client.get("/evaluation/").content.decode()
    assert f'href="/evaluation/{report.pk}/"' in listing
    assert HOSTILE not in listing and "&lt;script&gt;alert(1)&lt;/script&gt;" in listing

    page = client.get(f"/evaluation/{report.pk}/").content.decode()
    assert HOSTILE not in page and "<img src=x" not in page
    assert 'data-verified="true"' in page
    assert f'src="{REPORTS}{report.pk}/det.png"' in page
    assert f'href="/evaluation/{report.pk}/report.md"' in page and f'href="/evaluation/{report.pk}/report.html"' in page
    for section in ("goals", "acquisition", "verification", "identification", "splits", "gallery_growth"):
        assert f'data-section="{section}"' in page, section
    assert TPIR_AT_1E3 in page and NOT_RESOLVABLE_FPIR in page and NOT_RESOLVABLE_FAR in page
    assert "2,000,000" in page and "0.969963" not in page  # the tail's total, never its scores
    assert 'data-testid="calibrate-form"' not in page  # commissioners do not set thresholds


def test_markdown_export_carries_the_key_figures_and_escapes_markup(report, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.AUDITOR).get(f"/evaluation/{report.pk}/report.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"] == f'attachment; filename="evaluation-report-{report.pk}.md"'
    text = response.content.decode()
    assert text.startswith("# Q4 run &lt;script&gt;alert(1)&lt;/script&gt;\n")
    assert "<script" not in text and "<img" not in text
    assert "\\[click\\](javascript:alert(3))" in text  # no link can form
    assert report.sha256 in text and TEST_MODEL_VERSION in text
    for figure in (TPIR_AT_1E3, FAR_AT_1E3, NOT_RESOLVABLE_FPIR, NOT_RESOLVABLE_FAR):
        assert md_escape(figure) in text, figure
    assert "| 0.001 | 0.9310 |" in text  # the operating point's threshold
    assert "2,000,000" in text and "0.969963" not in text
    assert "## Data used" in text and "deepface/stuart5.png" in text and "## Options" in text
    export = AuditEvent.objects.filter(action="evaluation.report_export", object_id=str(report.pk)).get()
    assert export.actor_username == "auditor-user" and export.summary == {"format": "markdown", "sha256": report.sha256}


def test_html_export_is_standalone_with_the_curve_embedded_and_markup_escaped(report, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.OFFICER).get(f"/evaluation/{report.pk}/report.html")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="evaluation-report-{report.pk}.html"'
    text = response.content.decode()
    assert text.startswith("<!doctype html>")
    assert "<script" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '<img src="data:image/png;base64,' in text and "<style>" in text
    assert "http://" not in text and "https://" not in text  # nothing fetched from anywhere
    for figure in (TPIR_AT_1E3, FAR_AT_1E3, NOT_RESOLVABLE_FPIR, NOT_RESOLVABLE_FAR, "verified: the content"):
        assert figure in text, figure


def test_video_report_and_unknown_or_malformed_figures_render(client_as) -> None:  # type: ignore[no-untyped-def]
    video = report_make(kind="video", title="Composed street clips")
    client = client_as(Role.AUDITOR)
    text = client.get(f"/evaluation/{video.pk}/report.md").content.decode()
    assert "## Alerting modes" in text and "## Clips" in text
    assert md_escape("8.33% [0.21%, 38.48%] (1/12)") in text  # pooled: false alert rate
    assert md_escape("1.9 [0.05, 10.7]") in text  # false alerts per 10,000 faces
    assert "missed: Stuart (deepface:stuart)" in text
    assert "## Verification" not in text  # sections the report lacks are skipped

    figures = evaluation_figures("images")
    figures["future_metric"] = {"nested": [1, 2, {"x": None}]}
    figures["gallery_growth"]["measured"] = [{"gallery_size": 5, "rows": [7]}]  # not the expected form
    odd = report_make(figures=figures)
    for url in (f"/evaluation/{odd.pk}/", f"/evaluation/{odd.pk}/report.md", f"/evaluation/{odd.pk}/report.html"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        name = md_escape("future_metric") if url.endswith(".md") else "future_metric"
        assert name in body and "not in the form this page knows" in body, url
    assert client.get("/evaluation/999999/").status_code == 404


# --------------------------------------------------------------------------- calibration


def test_supervisor_previews_then_sets_a_threshold_from_a_report(report, north_list, supervisor, client_as) -> None:  # type: ignore[no-untyped-def]
    client = as_user(supervisor)
    preview = calibrate(client, north_list, report)
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert body["gallery_size"] == 2 and body["threshold"] == THRESHOLD_2_TEMPLATES
    assert body["current_threshold"] == 0.92 and body["resolvable"] is True and body["clamped"] is False
    assert body["fpir_expected"] <= 1e-3 and body["far"]["total"] == 2_000_000
    north_list.refresh_from_db()
    assert north_list.match_threshold == 0.92 and north_list.threshold_calibration_id is None  # preview only

    applied = calibrate(client, north_list, report, apply=True)
    assert applied.status_code == 201, applied.json()
    calibration = applied.json()
    assert calibration["threshold"] == THRESHOLD_2_TEMPLATES and calibration["previous_threshold"] == 0.92
    assert calibration["watchlist_name"] == "Wanted north" and calibration["zone"] == "North"
    assert calibration["created_by"] == "supervisor-user" and calibration["target_fpir"] == 1e-3
    north_list.refresh_from_db()
    assert north_list.match_threshold == THRESHOLD_2_TEMPLATES
    assert north_list.threshold_calibration_id == calibration["id"]
    event = AuditEvent.objects.filter(action="watchlist.threshold_calibrate").latest("sequence")
    assert event.actor == supervisor and event.summary["report_sha256"] == report.sha256

    # The report lists it; the watchlist says where its threshold came from.
    auditor = client_as(Role.AUDITOR)
    listed = auditor.get(f"{REPORTS}{report.pk}/").json()["calibrations"]
    assert [c["id"] for c in listed] == [calibration["id"]]
    page = auditor.get(f"/evaluation/{report.pk}/").content.decode()
    assert f'data-calibration="{calibration["id"]}"' in page and "0.9200 → 0.9333" in page
    summary = auditor.get(f"/api/v1/watchlists/{north_list.pk}/").json()["threshold_calibration"]
    assert summary == {
        "id": calibration["id"],
        "report": report.pk,
        "report_title": report.title,
        "target_fpir": 1e-3,
        "gallery_size": 2,
        "created_at": calibration["created_at"],
        "created_by": "supervisor-user",
    }
    watchlists_page = auditor.get("/watchlists/").content.decode()
    assert (
        f'<a href="/evaluation/{report.pk}/">calibrated from report #{report.pk} for FPIR 0.001</a>' in watchlists_page
    )

    # A threshold set by hand is no longer the report's.
    assert (
        client.patch(f"/api/v1/watchlists/{north_list.pk}/", {"match_threshold": 0.95}, format="json").status_code
        == 200
    )
    assert auditor.get(f"/api/v1/watchlists/{north_list.pk}/").json()["threshold_calibration"] is None
    assert "default / set by hand" in auditor.get("/watchlists/").content.decode()
    assert ThresholdCalibration.objects.filter(report=report).count() == 1  # the history stays


def test_only_supervisors_calibrate(report, north_list, client_as) -> None:  # type: ignore[no-untyped-def]
    for role in (Role.COMMISSIONER, Role.OFFICER, Role.AUDITOR, Role.ADMIN):
        response = calibrate(client_as(role), north_list, report, apply=True)
        assert response.status_code == 403, role
    assert calibrate(client_as(None), north_list, report).status_code == 401
    north_list.refresh_from_db()
    assert north_list.match_threshold == 0.92 and not ThresholdCalibration.objects.exists()


def test_supervisor_cannot_calibrate_another_zones_list(report, users_by_role, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    south_supervisor = make_user(Role.SUPERVISOR, "south-supervisor", zone_codes=("south",))
    south_list = listed_watchlist(zones["south"], south_supervisor, users_by_role[Role.OFFICER])
    north_supervisor = users_by_role[Role.SUPERVISOR]
    for apply in (False, True):
        response = calibrate(as_user(north_supervisor), south_list, report, apply=apply)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    # The service holds the line for callers that are not the API too.
    from backend.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied) as refused:
        services.threshold_calibrate(watchlist=south_list, report=report, target_fpir=1e-3, actor=north_supervisor)
    assert refused.value.code == "outside_zone"
    assert calibrate(as_user(south_supervisor), south_list, report, apply=True).status_code == 201


def test_refusals_say_why(report, north_list, supervisor, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    client = as_user(supervisor)
    # Too few non-mated comparisons for the rate asked for.
    figures = evaluation_figures("images")
    figures["non_mated_tail"]["total"] = 100_000
    small = report_make(title="Small run", figures=figures)
    refused = calibrate(client, north_list, small, target=1e-5, apply=True).json()
    assert refused["code"] == "not_resolvable" and "100,000 non-mated comparisons" in refused["message"]
    assert calibrate(client, north_list, small, target=1e-5).json()["code"] == "not_resolvable"

    # A report of another model than the list's templates.
    other = report_make(title="Other model", model_version="other-model@2")
    mismatch = calibrate(client, north_list, other, apply=True)
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "model_mismatch"
    assert calibrate(client, north_list, other).json()["code"] == "model_mismatch"  # the preview says so too

    # A video report has no score distribution; a target outside the allowed range.
    video = report_make(kind="video", title="Clips")
    assert "Only an image evaluation report" in calibrate(client, north_list, video).json()["message"]
    assert calibrate(client, north_list, report, target=0.5).json()["code"] == "target_out_of_range"

    # Bodies that are not valid.
    for body in (
        {},
        {"report": report.pk},
        {"report": 10**12, "target_fpir": 1e-3},
        {"report": report.pk, "target_fpir": "x"},
    ):
        response = client.post(f"/api/v1/watchlists/{north_list.pk}/calibrate/", body, format="json")
        assert response.status_code == 400 and "errors" in response.json(), body
    assert calibrate(client, Watchlist(pk=10**9), report).status_code == 404

    north_list.refresh_from_db()
    assert north_list.match_threshold == 0.92 and not ThresholdCalibration.objects.exists()


def test_calibration_form_is_offered_to_supervisors_of_image_reports_only(
    report, north_list, supervisor, client_as
) -> None:  # type: ignore[no-untyped-def]
    page = as_user(supervisor).get(f"/evaluation/{report.pk}/").content.decode()
    assert 'data-testid="calibrate-form"' in page
    assert f'data-api="/api/v1/watchlists/{north_list.pk}/calibrate/"' in page
    video = report_make(kind="video", title="Clips")
    video_page = as_user(supervisor).get(f"/evaluation/{video.pk}/").content.decode()
    assert 'data-testid="calibrate-form"' not in video_page and "Only an image evaluation report" in video_page
    assert (
        'data-testid="calibrate-form"' not in client_as(Role.AUDITOR).get(f"/evaluation/{report.pk}/").content.decode()
    )
    schema = json.dumps(client_as(Role.AUDITOR).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json())
    assert "/api/v1/watchlists/{id}/calibrate/" in schema and "/api/v1/evaluation/reports/{id}/det.png" in schema
