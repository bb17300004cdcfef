"""The alert page (/alerts/<id>/) in real Chromium against the real server: the two-person rule
end to end (officer A confirms and is told another officer must verify, A's own verification is
refused by the API, officer B verifies), a dismissal needs a reason, a hostile subject name stays
text, the sighting trail is drawn without tiles, images after a purpose, the evidence export
downloads one zip, and screenshots at a phone and a desktop viewport."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from backend.accounts.roles import Role
from backend.alerts.models import Alert, Sighting
from backend.audit.models import AuditEvent
from tests.browser.helpers import sign_in_verified, watch_for_trouble
from tests.factories import alert_make, camera_make, operation_make, photo_make, subject_make, watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
SCREENSHOTS = Path(settings.DATA_DIR) / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 1000}
# Refusals the tests provoke on purpose (Chromium logs each as a console error).
REFUSED = ("the server responded with a status of 403", "the server responded with a status of 400")


def make_alert(users: dict[str, Any], zones: Any, *, name: str = "Ravi Kale", trail: int = 1) -> Alert:
    """A new north alert; `trail` sightings of the subject at as many cameras, a minute apart."""
    watchlist = watchlist_make(zone=zones["north"], created_by=users["supervisor"], name="Chain snatchers", priority=1)
    subject = subject_make(
        watchlist=watchlist, created_by=users["a"], approved_by=users["supervisor"], status="active", full_name=name
    )
    operation = operation_make(
        requested_by=users["a"], authorised_by=users["supervisor"], watchlists=[watchlist], zones=[zones["north"]]
    )
    start = timezone.now() - timedelta(minutes=trail + 2)
    cameras = [
        camera_make(
            zone=zones["north"], name=f"Camera {n + 1}", latitude=18.52 + 0.004 * n, longitude=73.85 + 0.005 * n
        )
        for n in range(trail)
    ]
    alert = alert_make(
        subject=subject,
        camera=cameras[-1],
        operation=operation,
        matched_photo=photo_make(subject=subject, created_by=users["a"]),
        first_seen_at=start + timedelta(minutes=trail - 1),
        last_seen_at=start + timedelta(minutes=trail - 1),
    )
    for n, camera in enumerate(cameras):
        Sighting.objects.create(
            alert=alert,
            subject=subject,
            camera=camera,
            captured_at=start + timedelta(minutes=n),
            score=0.95,
            latitude=camera.latitude,
            longitude=camera.longitude,
            frame_id=f"frame-{alert.pk}-{n}",
        )
    return alert


@pytest.fixture
def users(make_user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "a": make_user(Role.OFFICER, username="officer-a"),
        "b": make_user(Role.OFFICER, username="officer-b"),
        "supervisor": make_user(Role.SUPERVISOR),
    }


def open_alert(page: Any, web_server: str, user: Any, alert: Alert) -> None:
    sign_in_verified(page, web_server, user, next_path=f"/alerts/{alert.pk}/")
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    expect(page.get_by_test_id("history")).not_to_contain_text("Loading")


def test_two_person_rule_end_to_end(browser, page, web_server, users, zones) -> None:  # type: ignore[no-untyped-def]
    alert = make_alert(users, zones)
    trouble = watch_for_trouble(page, expected=REFUSED)
    open_alert(page, web_server, users["a"], alert)
    rule = page.get_by_test_id("two-person")
    expect(rule).to_contain_text("Not confirmed yet")

    page.get_by_role("button", name="Confirm match").click()
    expect(page.get_by_test_id("alert-status")).to_have_text("Awaiting verification")
    expect(rule).to_contain_text("Awaiting verification by an officer other than officer-a.")
    expect(rule).to_contain_text("You confirmed it: another officer or supervisor must verify it.")
    # A's own verification: offered by role and state, refused by the API with its reason.
    page.get_by_role("button", name="Verify confirmation").click()
    result = page.get_by_test_id("action-result")
    expect(result).to_have_attribute("data-kind", "error")
    expect(result).to_contain_text("You confirmed this alert; another officer or supervisor of North")
    expect(page.get_by_test_id("alert-status")).to_have_text("Awaiting verification")
    assert Alert.objects.get(pk=alert.pk).status == "pending_verification"
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble

    context = browser.new_context()
    try:
        other = context.new_page()
        trouble_b = watch_for_trouble(other)
        open_alert(other, web_server, users["b"], alert)
        expect(other.get_by_test_id("two-person")).to_have_text(
            "Confirmed by officer-a. Awaiting verification by an officer other than officer-a."
        )
        other.get_by_role("button", name="Verify confirmation").click()
        expect(other.get_by_test_id("alert-status")).to_have_text("Confirmed")
        expect(other.get_by_test_id("two-person")).to_have_text(
            "Confirmed by officer-a and verified by officer-b: two officers agreed."
        )
        expect(other.get_by_test_id("history")).to_contain_text("officer-a confirmed")
        expect(other.get_by_test_id("history")).to_contain_text("officer-b verified")
        assert other.get_by_test_id("alert-actions").is_hidden()  # nothing left to do
        assert trouble_b["dialogs"] == [] and trouble_b["console"] == [], trouble_b
    finally:
        context.close()
    # A's page follows B's verification live (alert.updated over the WebSocket), without a reload.
    expect(page.get_by_test_id("alert-status")).to_have_text("Confirmed", timeout=20000)
    expect(rule).to_contain_text("verified by officer-b")
    saved = Alert.objects.get(pk=alert.pk)
    assert (saved.status, saved.confirmed_by, saved.verified_by) == ("confirmed", users["a"], users["b"])


def test_dismiss_needs_a_reason(page, web_server, users, zones) -> None:  # type: ignore[no-untyped-def]
    alert = make_alert(users, zones)
    trouble = watch_for_trouble(page, expected=REFUSED)
    open_alert(page, web_server, users["a"], alert)
    page.get_by_role("button", name="Dismiss").click()
    result = page.get_by_test_id("action-result")
    expect(result).to_have_text("Say why the alert is dismissed.")
    assert Alert.objects.get(pk=alert.pk).status == "new"

    page.get_by_test_id("reason").fill("Not the listed person: different height and scar")
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_test_id("alert-status")).to_have_text("Dismissed")
    expect(page.get_by_test_id("history")).to_contain_text(
        "officer-a dismissed: Not the listed person: different height and scar"
    )
    assert page.get_by_test_id("alert-actions").is_hidden()
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_hostile_name_trail_images_evidence_and_screenshots(page, web_server, users, zones) -> None:  # type: ignore[no-untyped-def]
    alert = make_alert(users, zones, name=HOSTILE, trail=3)
    trouble = watch_for_trouble(page)
    page.set_viewport_size(PHONE)
    open_alert(page, web_server, users["a"], alert)

    expect(page.get_by_test_id("alert-subject")).to_have_text(HOSTILE)
    expect(page.get_by_test_id("alert-watchlist")).to_contain_text("Chain snatchers · priority 1")
    expect(page.get_by_test_id("alert-score")).to_contain_text("vs threshold")
    expect(page.locator("[data-testid=first-seen] + .relative")).to_contain_text("ago")
    expect(page.get_by_test_id("two-person")).to_contain_text("Not confirmed yet")

    # The trail: three sightings in time order, drawn on a map without tiles, times beside them.
    expect(page.get_by_test_id("trail-state")).to_have_text("3 sightings at 3 cameras, oldest first.")
    trail = page.locator("[data-testid=trail-list] li .trail-camera")
    expect(trail).to_have_count(3)
    assert [text.split(" (")[0] for text in trail.all_inner_texts()] == ["Camera 1", "Camera 2", "Camera 3"]
    trail_map = page.get_by_test_id("trail-map")
    expect(trail_map).to_have_attribute("data-points", "3")
    expect(trail_map).to_have_attribute("data-tiles", "off")
    expect(trail_map.locator("path.trail-point")).to_have_count(3)
    expect(trail_map.locator("path.trail-path")).to_have_count(1)
    expect(trail_map.locator(".trail-tooltip")).to_have_count(3)
    assert "IST" in trail_map.locator(".trail-tooltip").first.inner_text()

    # Images: a purpose first, then the probe crop beside the enrolled photo (audited reads).
    page.fill("#alert-images-form input[name=purpose]", "identity check before dispatch")
    with page.expect_response(lambda response: "/enrolled/" in response.url) as enrolled:
        page.get_by_role("button", name="View images").click()
    assert enrolled.value.status == 200 and enrolled.value.request.method == "POST"
    expect(page.locator("[data-testid=alert-images] img")).to_have_count(2)
    viewed = AuditEvent.objects.filter(purpose="identity check before dispatch")
    expect(page.locator("[data-testid=alert-images] img").first).to_be_visible()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alert-page-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SCREENSHOTS / "alert-page.png"), full_page=True)
    assert {e.action for e in viewed} == {"biometric.probe_view", "biometric.photo_view"}

    # Evidence export: a purpose, then one zip file.
    page.fill("#evidence-form input[name=purpose]", "case file for FIR 12/2026")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download evidence (.zip)").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"alert-{alert.pk}-evidence-")
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as bundle:
        assert {"evidence.json", "probe.jpg", "enrolled.jpg"} <= set(bundle.namelist())
        assert json.loads(bundle.read("evidence.json"))["subject"]["full_name"] == HOSTILE
    expect(page.get_by_test_id("evidence-result")).to_contain_text("recorded in the audit log")
    assert AuditEvent.objects.get(action="alert.evidence_export").purpose == "case file for FIR 12/2026"

    assert page.locator("img[src=x]").count() == 0
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_another_zone_is_refused_and_the_panel_links_here(browser, page, web_server, users, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    alert = make_alert(users, zones)
    south = make_user(Role.OFFICER, username="officer-south", zone_codes=("south",))
    sign_in_verified(page, web_server, south)
    response = page.goto(f"{web_server}/alerts/{alert.pk}/")
    assert response is not None and response.status == 404  # scoped server-side

    context = browser.new_context()
    try:
        other = context.new_page()
        sign_in_verified(other, web_server, users["b"])
        link = other.locator(f"[data-testid=alert-item][data-alert-id='{alert.pk}'] a.alert-link")
        expect(link).to_have_text("Ravi Kale", timeout=20000)
        link.click()
        other.wait_for_url(f"**/alerts/{alert.pk}/")
        expect(other.get_by_test_id("alert-subject")).to_have_text("Ravi Kale")
    finally:
        context.close()
