"""A small evaluation on CI through the real parts (Triton, pgvector, Redis, the live pipeline):
the report's structure, figures in sane ranges, nothing of the galleries left behind, and a
threshold calibrated from the report and linked to it."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from referencing import Registry, Resource

from backend.accounts.roles import Role
from backend.alerts.models import Alert
from backend.audit.models import AuditEvent
from backend.cameras.models import Camera
from backend.core.errors import ApplicationError
from backend.core.live_state import live_redis
from backend.evaluation import services
from backend.evaluation.models import EvaluationReport
from backend.evaluation.stats import min_trials_for
from backend.operations.models import Operation
from backend.watchlists.models import FaceTemplate, Subject, Watchlist

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SCHEMAS = Path(__file__).resolve().parents[2] / "backend" / "evaluation" / "schemas"


def _validate(figures: dict[str, Any], name: str) -> None:
    resources = {
        f"https://fr.local/evaluation/{path.name}": Resource.from_contents(json.loads(path.read_text()))
        for path in SCHEMAS.glob("*.json")
    }
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.validate(figures, schema, registry=Registry().with_resources(resources.items()))


def _rates(value: Any) -> list[dict[str, Any]]:
    """Every Rate object anywhere in the figures."""
    if isinstance(value, dict):
        found = [value] if {"count", "total", "low", "high", "method"} <= set(value) else []
        return found + [rate for item in value.values() for rate in _rates(item)]
    if isinstance(value, list):
        return [rate for item in value for rate in _rates(item)]
    return []


def _assert_rates_consistent(figures: dict[str, Any]) -> None:
    rates = _rates(figures)
    assert rates
    for rate in rates:
        assert 0 <= rate["count"] <= rate["total"]
        if rate["total"]:
            assert rate["value"] == pytest.approx(rate["count"] / rate["total"])
            assert rate["low"] <= rate["value"] <= rate["high"]
        else:
            assert rate["value"] is None


def _run(*args: str) -> tuple[EvaluationReport, str]:
    out = io.StringIO()
    call_command("evaluate", *args, stdout=out)
    report = EvaluationReport.objects.latest("pk")
    return report, out.getvalue()


def test_image_evaluation_report(datasets_dir: Path, make_user, zones, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subjects_before, events_before = Subject.objects.count(), AuditEvent.objects.count()
    report, output = _run(
        "images",
        "--datasets",
        str(datasets_dir),
        "--quick",
        "4",
        "--max-frames",
        "6",
        "--degrade",
        "cctv",
        "--out",
        str(tmp_path),
    )
    figures = report.figures
    _validate(figures, "figures_images.json")
    _assert_rates_consistent(figures)

    # The report is whole, hashed, and its storing is the only trace the run leaves.
    assert report.kind == "images" and report.model_version.startswith("detector=retinaface")
    assert bytes(report.det_png).startswith(b"\x89PNG")
    assert services.report_verify(report)
    assert Subject.objects.count() == subjects_before
    assert not Watchlist.objects.filter(name__startswith="Evaluation").exists()
    stored = AuditEvent.objects.filter(action="evaluation.report_store", object_id=str(report.pk)).get()
    assert stored.summary["sha256"] == report.sha256
    assert AuditEvent.objects.count() == events_before + 1
    assert f"report {report.pk} stored" in output
    written = tmp_path / f"evaluation-report-{report.pk}"
    assert written.with_suffix(".png").read_bytes() == bytes(report.det_png)
    assert report.sha256 in written.with_suffix(".md").read_text()
    assert "data:image/png;base64," in written.with_suffix(".html").read_text()

    # Sane ranges: the colour set separates well; the quick run is too small for the rarest rates.
    conditions = {(v["set"], v["condition"]) for v in figures["verification"]}
    assert {("colour portraits", "original"), ("colour portraits", "cctv")} <= conditions
    colour = next(v for v in figures["verification"] if v["condition"] == "original" and v["set"] == "colour portraits")
    assert colour["eer"]["value"] < 0.1 and 0.8 < colour["eer"]["threshold"] < 0.98
    far_1e4 = next(row for row in colour["at_far"] if row["target"] == 1e-4)
    assert colour["impostor_pairs"] < min_trials_for(1e-4) and not far_1e4["resolvable"] and far_1e4["tar"] is None
    identification = {(i["set"], i["condition"]): i for i in figures["identification"]}
    original = identification[("colour portraits", "original")]
    assert original["gallery_size"] >= 2 and original["mated_searches"] > 0 and original["rank1"]["value"] >= 0.8
    assert not next(r for r in original["at_fpir"] if r["target"] == 1e-3)["resolvable"]
    # pgvector's best scores equal the templates' dot products.
    assert figures["search_check"]["searches"] > 0 and figures["search_check"]["agree"] is True
    tail = figures["non_mated_tail"]
    assert tail["total"] == figures["gallery_growth"]["comparisons"] > 0
    assert tail["scores"] == sorted(tail["scores"], reverse=True) and all(-1 <= s <= 1 for s in tail["scores"])
    assert [g["gallery_size"] for g in figures["gallery_growth"]["measured"]] == sorted(
        g["gallery_size"] for g in figures["gallery_growth"]["measured"]
    )
    split_names = {s["by"] for s in figures["splits"]}
    assert {"face size (inter-ocular px)", "condition", "data set", "quality"} <= split_names
    assert any(goal["goal"].startswith("TPIR >= 95%") for goal in figures["goals"])
    assert any(source["path"].endswith("people.mp4") for source in report.data["non_mated_sources"])
    excluded = {source["path"] for source in report.data["excluded_sources"]}
    assert "face_recognition/examples/short_hamilton_clip.mp4" in excluded  # its person is a portrait identity
    assert "opencv4nodejs/data/got.jpg" in excluded

    # A threshold from the report, linked to it, refused where the report cannot answer.
    supervisor = make_user(Role.SUPERVISOR)
    watchlist = Watchlist.objects.create(
        name="Calibrated", category="wanted", zone=zones["north"], created_by=supervisor
    )
    with pytest.raises(ApplicationError) as refused:
        services.threshold_calibrate(watchlist=watchlist, report=report, target_fpir=1e-5, actor=supervisor)
    assert refused.value.code == "not_resolvable"
    calibration = services.threshold_calibrate(watchlist=watchlist, report=report, target_fpir=1e-2, actor=supervisor)
    watchlist.refresh_from_db()
    assert watchlist.threshold_calibration == calibration and watchlist.match_threshold == calibration.threshold
    assert 0.88 <= calibration.threshold <= 0.97 and calibration.previous_threshold == 0.92
    assert AuditEvent.objects.filter(action="watchlist.threshold_calibrate", object_id=str(watchlist.pk)).exists()
    # Setting it by hand breaks the link: the report does not stand behind that value.
    from backend.watchlists.services import watchlist_update

    watchlist_update(watchlist=watchlist, actor=supervisor, match_threshold=0.95)
    watchlist.refresh_from_db()
    assert watchlist.threshold_calibration is None and watchlist.calibrations.count() == 1

    # A stored report that is edited afterwards no longer verifies.
    EvaluationReport.objects.filter(pk=report.pk).update(title="edited")
    report.refresh_from_db()
    assert services.report_verify(report)  # the title is not evidence
    figures["goals"] = []
    EvaluationReport.objects.filter(pk=report.pk).update(figures=figures)
    report.refresh_from_db()
    assert not services.report_verify(report)


def test_video_evaluation_report(datasets_dir: Path) -> None:
    report, output = _run(
        "video",
        "--datasets",
        str(datasets_dir),
        "--clips",
        "1",
        "--clip-frames",
        "14",
        "--max-video-frames",
        "2",
        "--thresholds",
        "0.92,0.96",
    )
    figures = report.figures
    _validate(figures, "figures_video.json")
    _assert_rates_consistent(figures)
    assert services.report_verify(report) and report.kind == "video"
    modes = {m["mode"]: m for m in figures["modes"]}
    assert set(modes) == {"pooled", "single_frame"} and {m["threshold"] for m in figures["modes"]} == {0.92}
    assert {(m["mode"], m["threshold"]) for m in figures["sweep"]} == {
        (mode, t) for mode in modes for t in (0.92, 0.96)
    }
    # A stricter threshold never raises more alerts on the same frames.
    for mode in modes:
        loose, strict = (
            next(m for m in figures["sweep"] if m["mode"] == mode and m["threshold"] == t) for t in (0.92, 0.96)
        )
        assert strict["alerts"] <= loose["alerts"]
    for mode in figures["sweep"]:
        assert mode["alerts"] == mode["correct_alerts"] + mode["false_alerts"]
        assert 0 <= mode["people_missed"] <= mode["people_present"]
        per10k = mode["false_alerts_per_10k_faces"]
        if mode["faces_seen"]:
            assert per10k["value"] == pytest.approx(10_000 * mode["false_alerts"] / mode["faces_seen"], abs=1e-3)
    # Both modes replay the same frames, so they see the same faces.
    assert modes["pooled"]["faces_seen"] == modes["single_frame"]["faces_seen"] > 0
    composed = figures["clips"][0]
    assert composed["source"].startswith("composed:") and composed["listed_present"], "a listed person walks by"
    # The first walker of a composed clip is listed and clearly visible: single-frame decisions find them.
    assert composed["modes"]["single_frame"]["correct"] >= 1
    # Replays are rolled back: no camera, operation or alert of theirs remains, and no frame in Redis.
    assert not Camera.objects.filter(code__startswith="eval-").exists()
    assert not Operation.objects.filter(name__startswith="Evaluation replay").exists()
    assert not Alert.objects.exists() and not FaceTemplate.objects.exists()
    assert not list(live_redis().scan_iter("frame:*"))
    assert f"report {report.pk} stored" in output
    assert math.isfinite(report.duration_s)


def test_evaluation_stops_with_a_clear_error_when_triton_is_away(datasets_dir: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.management.base import CommandError

    from backend.faces.inference_client import reset_client
    from tests.conftest import free_port

    settings.TRITON_URL = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings.TRITON_TIMEOUT_S = 1
    reset_client()
    try:
        with pytest.raises(CommandError, match="The evaluation stopped: The face recognition service is unavailable"):
            call_command("evaluate", "images", "--datasets", str(datasets_dir), "--quick", "1", stdout=io.StringIO())
    finally:
        reset_client()
    assert not EvaluationReport.objects.exists()  # nothing half-measured is stored
