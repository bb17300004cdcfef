"""Evaluation report pages in real Chromium against the real server: an auditor opens a report
from the top bar, reads its figures (a hostile title stays text), sees the DET curve load and
downloads both exports; a supervisor previews a threshold (a refusal comes back as the server's
sentence), sets it, and finds it listed under the report and on the watchlists page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from playwright.sync_api import expect

from backend.accounts.otp import second_factor_required
from backend.accounts.roles import Role
from backend.watchlists.models import Watchlist
from tests.browser.helpers import sign_in, sign_in_verified, watch_for_trouble
from tests.factories import evaluation_figures, photo_make, report_make, subject_make, template_make, watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.DATA_DIR) / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)>"
REFUSED_400 = "the server responded with a status of 400"
TPIR_AT_1E3 = "85.33% [78.64%, 90.57%] (128/150)"


def _sign_in(page: Any, web_server: str, user: Any, next_path: str = "/") -> None:
    if second_factor_required(user):
        sign_in_verified(page, web_server, user, next_path)
    else:
        sign_in(page, web_server, user.username)
        page.wait_for_selector("[data-testid=who]")
        page.goto(f"{web_server}{next_path}")


def _listed(zone: Any, supervisor: Any, officer: Any, name: str, templates: int) -> Watchlist:
    watchlist = watchlist_make(zone=zone, created_by=supervisor, name=name)
    rng = np.random.default_rng(templates)
    for number in range(templates):
        subject = subject_make(
            watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active", full_name=f"P {number}"
        )
        template_make(photo=photo_make(subject=subject, created_by=officer), embedding=rng.normal(size=128))
    return watchlist


def test_auditor_reads_a_report_sees_its_curve_and_downloads_it(page, web_server, make_user) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user(Role.AUDITOR, "city-auditor")
    figures = evaluation_figures("images")
    figures["notes"].append(f"Reviewed by {HOSTILE}")
    report = report_make(title=f"Q4 accuracy {HOSTILE}", figures=figures)

    sign_in_verified(page, web_server, auditor)
    trouble = watch_for_trouble(page)
    page.get_by_test_id("nav").get_by_role("link", name="Evaluation").click()
    page.wait_for_url("**/evaluation/")
    page.locator(f"tr[data-report='{report.pk}'] [data-testid=report-link]").click()
    page.wait_for_url(f"**/evaluation/{report.pk}/")

    assert page.get_by_test_id("report-title").inner_text() == f"Q4 accuracy {HOSTILE}"
    assert page.locator("img[src=x]").count() == 0
    expect(page.get_by_test_id("report-verified")).to_have_attribute("data-verified", "true")
    assert page.get_by_test_id("report-sha256").inner_text() == report.sha256
    assert page.get_by_test_id("report-date").inner_text().endswith("IST")
    identification = page.locator("[data-section=identification]")
    assert TPIR_AT_1E3 in identification.inner_text()
    assert "not resolvable (needs ≥ 29,956 non-mated searches, have 4,800)" in identification.inner_text()
    assert f"Reviewed by {HOSTILE}" in page.locator("[data-section=notes]").inner_text()
    det = page.get_by_test_id("det-image")
    det.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=det.element_handle())
    assert "No watchlist threshold has been set" in page.get_by_test_id("calibrations").inner_text()
    assert page.get_by_test_id("calibrate-form").count() == 0  # auditors read, never set

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.screenshot(path=str(SCREENSHOTS / "evaluation-report.png"), full_page=True)

    with page.expect_download() as markdown:
        page.get_by_test_id("download-md").click()
    assert markdown.value.suggested_filename == f"evaluation-report-{report.pk}.md"
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert report.sha256 in text and "<img" not in text and "&lt;img src=x" in text
    with page.expect_download() as document:
        page.get_by_test_id("download-html").click()
    assert document.value.suggested_filename == f"evaluation-report-{report.pk}.html"
    html = Path(document.value.path()).read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "data:image/png;base64," in html and "<img src=x" not in html
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_supervisor_previews_and_sets_a_threshold_from_a_report(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR, "north-supervisor")
    officer = make_user(Role.OFFICER, "north-officer")
    wanted = _listed(zones["north"], supervisor, officer, "Wanted north", templates=2)
    big = _listed(zones["north"], supervisor, officer, "Big list", templates=8)
    report = report_make(title="Colour portraits, CCTV probes")

    trouble = watch_for_trouble(page, expected=(REFUSED_400,))
    _sign_in(page, web_server, supervisor, f"/evaluation/{report.pk}/")
    form = page.get_by_test_id("calibrate-form")
    result = page.get_by_test_id("calibrate-result")
    apply = page.get_by_test_id("calibrate-apply")
    expect(apply).to_be_disabled()

    # FPIR 1e-5 on 8 templates needs a per-comparison rate the report's 2,000,000 comparisons cannot resolve.
    form.get_by_label("Watchlist").select_option(label="Big list (North; threshold now 0.9200)")
    form.get_by_label("Target FPIR").fill("0.00001")
    page.get_by_test_id("calibrate-preview").click()
    expect(result).to_have_attribute("data-kind", "error")
    assert "2,000,000 non-mated comparisons, too few to resolve" in result.inner_text()
    expect(apply).to_be_disabled()

    form.get_by_label("Watchlist").select_option(label="Wanted north (North; threshold now 0.9200)")
    form.get_by_label("Target FPIR").fill("0.001")
    page.get_by_test_id("calibrate-preview").click()
    expect(result).to_have_attribute("data-kind", "ok")
    assert result.inner_text().startswith("Threshold 0.9200 → 0.9333 for FPIR 0.001 on a list of 2 templates")
    expect(apply).to_be_enabled()
    wanted.refresh_from_db()
    assert wanted.match_threshold == 0.92  # a preview changes nothing

    apply.click()
    rows = page.locator("[data-testid=calibrations] tbody tr[data-calibration]")
    expect(rows).to_have_count(1)
    row = rows.first.inner_text()
    assert "Wanted north" in row and "North" in row and "0.9200 → 0.9333" in row and "north-supervisor" in row
    wanted.refresh_from_db()
    big.refresh_from_db()
    assert wanted.match_threshold == 0.9333 and wanted.threshold_calibration_id is not None
    assert big.match_threshold == 0.92 and big.threshold_calibration_id is None

    page.get_by_test_id("nav").get_by_role("link", name="Watchlists").click()
    page.wait_for_url("**/watchlists/")
    source = page.locator(f"tr[data-watchlist='{wanted.pk}'] [data-testid=threshold-source]")
    assert source.inner_text() == f"calibrated from report #{report.pk} for FPIR 0.001"
    assert page.locator(f"tr[data-watchlist='{big.pk}'] [data-testid=threshold-source]").inner_text() == (
        "default / set by hand"
    )
    source.get_by_role("link").click()
    page.wait_for_url(f"**/evaluation/{report.pk}/")
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble
