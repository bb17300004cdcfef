"""The auditor's match history and the statistics page in real Chromium against the real server:
alerts with their adjudications, filters and pages, a CSV export with a purpose (audited), charts
whose figures add up, hostile names kept as text, and each role reaching only its pages."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from backend.accounts.otp import second_factor_required
from backend.accounts.roles import ALL_ROLES, Role
from backend.alerts.models import Adjudication, Alert
from backend.audit.models import AuditEvent
from backend.cameras.models import Camera
from backend.dashboard.history_views import PAGE_SIZE
from tests.browser.helpers import sign_in, sign_in_verified, watch_for_trouble
from tests.factories import alert_make, camera_make, operation_make, subject_make, watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
SCREENSHOTS = Path(settings.DATA_DIR) / "screenshots"
PURPOSE = "quarterly review of matches, Q4 2026"


def _sign_in(page: Any, web_server: str, user: Any) -> None:
    """With the second factor where the role has one (every role, unless relaxed)."""
    if second_factor_required(user):
        sign_in_verified(page, web_server, user)
    else:
        sign_in(page, web_server, user.username)
        page.wait_for_selector("[data-testid=who]")


def _setting(make_user, zones) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR, "north-supervisor")
    officer = make_user(Role.OFFICER, "north-officer")
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor, name="Wanted north")
    subject = subject_make(
        watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active", full_name=HOSTILE
    )
    north = [camera_make(zone=zones["north"], health=Camera.Health.ONLINE) for _ in range(3)]
    north.append(camera_make(zone=zones["north"], health=Camera.Health.OFFLINE))
    south = [camera_make(zone=zones["south"], health=Camera.Health.ONLINE)]
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=list(zones.values())
    )
    return {
        "supervisor": supervisor,
        "officer": officer,
        "subject": subject,
        "north": north,
        "south": south,
        "operation": operation,
    }


def _alert(setting: dict[str, Any], zone: str, status: str = Alert.Status.NEW) -> Alert:
    fields: dict[str, Any] = {"status": status}
    officer, supervisor = setting["officer"], setting["supervisor"]
    if status == Alert.Status.CONFIRMED:
        fields |= {"confirmed_by": officer, "verified_by": supervisor}
    alert = alert_make(subject=setting["subject"], camera=setting[zone][0], operation=setting["operation"], **fields)
    if status == Alert.Status.CONFIRMED:
        Adjudication.objects.create(
            alert=alert, actor=officer, action="confirm", from_status="acknowledged", to_status="pending_verification"
        )
        Adjudication.objects.create(
            alert=alert, actor=supervisor, action="verify", from_status="pending_verification", to_status="confirmed"
        )
    if status == Alert.Status.DISMISSED:
        Adjudication.objects.create(
            alert=alert,
            actor=officer,
            action="dismiss",
            reason="A look-alike, not the listed person",
            from_status="new",
            to_status="dismissed",
        )
    return alert


def test_auditor_match_history_filters_pages_and_exports(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    setting = _setting(make_user, zones)
    auditor = make_user(Role.AUDITOR, "city-auditor")
    for _ in range(PAGE_SIZE):  # older alerts, enough for a second page
        _alert(setting, "north")
    confirmed = _alert(setting, "north", Alert.Status.CONFIRMED)
    dismissed = _alert(setting, "south", Alert.Status.DISMISSED)

    sign_in_verified(page, web_server, auditor)
    trouble = watch_for_trouble(page)
    page.get_by_test_id("nav").get_by_role("link", name="Match history").click()
    page.wait_for_url("**/history/")
    assert page.get_by_test_id("history-count").inner_text() == f"{PAGE_SIZE + 2} alerts; page 1 of 2."
    rows = page.locator("[data-testid=match-history] tbody tr")
    assert rows.count() == PAGE_SIZE
    assert rows.first.get_attribute("data-alert") == str(dismissed.pk)  # newest first
    assert (
        page.locator(f"tr[data-alert='{dismissed.pk}'] [data-testid=alert-link]").get_attribute("href")
        == f"/alerts/{dismissed.pk}/"
    )
    history = page.locator(f"tr[data-alert='{confirmed.pk}'] [data-testid=adjudications]").inner_text()
    assert "Confirm by north-officer" in history and "Verify by north-supervisor" in history
    assert page.locator(".history-subject").first.inner_text() == HOSTILE
    assert page.locator("img[src=x]").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.screenshot(path=str(SCREENSHOTS / "match-history.png"))
    page.get_by_test_id("history-older").click()
    expect(rows).to_have_count(2)

    # Filter: dismissed alerts only (a real GET form).
    page.goto(f"{web_server}/history/")
    page.get_by_label("Status").select_option("dismissed")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**/history/?*status=dismissed*")
    assert rows.count() == 1
    assert "A look-alike, not the listed person" in rows.first.inner_text()
    page.goto(f"{web_server}/history/?date_to=2001-01-01")
    assert page.get_by_test_id("history-count").inner_text() == "No alerts match these filters."

    # Export of the filtered alerts, with a purpose: audited.
    page.goto(f"{web_server}/history/?status=dismissed")
    page.fill("#history-export-purpose", PURPOSE)
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in exported] == [str(dismissed.pk)]
    assert "A look-alike" in exported[0]["adjudications"]
    event = AuditEvent.objects.filter(action="alert.export").latest("sequence")
    assert event.purpose == PURPOSE and event.actor == auditor
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_commissioner_sees_charts_whose_figures_add_up(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    setting = _setting(make_user, zones)
    commissioner = make_user(Role.COMMISSIONER, "commissioner")
    for status in ("confirmed", "confirmed", "dismissed", "new"):
        _alert(setting, "north", status)
    _alert(setting, "south")

    _sign_in(page, web_server, commissioner)
    trouble = watch_for_trouble(page)
    page.get_by_test_id("nav").get_by_role("link", name="Statistics").click()
    page.wait_for_url("**/stats/")
    expect(page.get_by_test_id("stats-state")).to_have_attribute("data-state", "loaded")
    assert page.get_by_test_id("total-alerts").inner_text() == "5"
    assert page.get_by_test_id("total-rate").inner_text() == "67%"  # 2 confirmed of 3 decided
    assert page.get_by_test_id("total-online").inner_text() == "4 of 5"
    panels = page.locator(".stats-panel")
    assert [p.get_attribute("data-zone") for p in panels.all()] == ["city", "north", "south"]
    north = page.locator(".stats-panel[data-zone=north]")
    assert north.locator("figcaption").inner_text() == (
        "North: 4 alerts, 2 confirmed, 1 dismissed, confirmed rate 67%; cameras online 3 of 4"
    )
    # The bars hold the figures: 14 days, today's bar stacked 2 confirmed + 1 dismissed + 1 open.
    days = north.locator("g.stats-day")
    assert days.count() == 14
    assert sum(int(d.get_attribute("data-alerts")) for d in days.all()) == 4
    today = days.last
    assert today.locator("rect.bar-confirmed").count() == 1 and today.locator("rect.bar-open").count() == 1
    assert north.locator("circle.stats-rate-point").count() == 1
    city = page.locator(".stats-panel[data-zone=city] g.stats-day").last
    assert city.get_attribute("data-alerts") == "5"
    # The table fallback says the same.
    assert page.locator("[data-testid=stats-table] tr[data-zone=north][data-day=total] td").nth(1).text_content() == "4"
    page.screenshot(path=str(SCREENSHOTS / "stats.png"), full_page=True)
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


PAGES = {"/operations/": "Operations", "/history/": "Match history", "/stats/": "Statistics"}
ALLOWED = {
    Role.COMMISSIONER: {"/operations/", "/stats/"},
    Role.OFFICER: {"/operations/"},
    Role.SUPERVISOR: {"/operations/", "/stats/"},
    Role.AUDITOR: {"/operations/", "/history/", "/stats/"},
    Role.ADMIN: set(),
}


@pytest.mark.parametrize("role", ALL_ROLES, ids=[role.value for role in ALL_ROLES])
def test_each_role_reaches_only_its_pages(page, web_server, make_user, role) -> None:  # type: ignore[no-untyped-def]
    user = make_user(role)
    _sign_in(page, web_server, user)
    nav = page.get_by_test_id("nav")
    for path, label in PAGES.items():
        assert nav.get_by_role("link", name=label, exact=True).count() == (1 if path in ALLOWED[role] else 0), label
    for path in PAGES:
        allowed = path in ALLOWED[role]
        response = page.goto(f"{web_server}{path}")
        assert response is not None and response.status == (200 if allowed else 403), (role, path)
