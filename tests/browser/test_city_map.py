"""The city map and the live alert panel in real Chromium against the real stack (Daphne,
Channels on Redis, PostgreSQL): the seeded 2,880 cameras are all on the map and the clusters add
up, filters narrow them, a hostile camera name stays text in its popup, and an alert published
after commit appears in the open page without reload, is acknowledged, and shows its images only
after a purpose is given."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from backend.accounts.roles import Role
from backend.alerts.events import alert_publish_on_commit
from backend.audit.models import AuditEvent
from backend.cameras.health import camera_health_update
from backend.cameras.models import Camera
from backend.cameras.seed import cameras_seed
from backend.watchlists.models import Subject, Watchlist
from tests.browser.helpers import sign_in_verified, watch_for_trouble
from tests.factories import alert_make, camera_make, operation_make, photo_make, subject_make, watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
SEEDED = 2880
SCREENSHOT = Path(settings.DATA_DIR) / "screenshots" / "city-map.png"
ALERT_SCREENSHOT = Path(settings.DATA_DIR) / "screenshots" / "city-map-live-alert.png"


def sign_in_commissioner(page: Any, web_server: str, user: Any) -> None:
    """Commissioners see the camera map (and counts), with their second factor like every role."""
    sign_in_verified(page, web_server, user)


def in_thread(work: Any) -> None:
    """Run a service that broadcasts (as the pipeline does) in another thread: Playwright's sync
    API keeps an event loop in this one, where async_to_sync (the channel layer's send) refuses
    to run. No transaction is open there, so the event goes out at once."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=10)


def count(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def drawn_cameras(page: Any) -> int:
    """Cameras the map draws now: every cluster's count plus every single marker."""
    clusters = sum(count(text) for text in page.locator("#city-map .cluster-count").all_inner_texts())
    return clusters + page.locator("#city-map .camera-marker").count()


def wait_drawn(page: Any, expected: int, timeout_s: float = 10.0) -> int:
    """The drawn total once it settles on `expected` (clusters are rebuilt after a filter or zoom)."""
    deadline = time.monotonic() + timeout_s
    drawn = drawn_cameras(page)
    while drawn != expected and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        drawn = drawn_cameras(page)
    return drawn


def test_map_holds_every_seeded_camera_and_filters_narrow_it(page, web_server, make_user) -> None:  # type: ignore[no-untyped-def]
    assert cameras_seed() == SEEDED
    commissioner = make_user(Role.COMMISSIONER)
    trouble = watch_for_trouble(page)
    sign_in_commissioner(page, web_server, commissioner)

    status = page.get_by_test_id("map-status")
    expect(status).to_have_text("2,880 cameras", timeout=20000)
    city_map = page.get_by_test_id("city-map")
    expect(city_map).to_have_attribute("data-total", str(SEEDED))
    assert city_map.get_attribute("data-tiles") == "off"  # no tile server here: plain background
    # The clusters (and any single markers) in view add up to every camera.
    assert wait_drawn(page, SEEDED) == SEEDED
    assert page.locator("#city-map .cluster-count").count() > 1
    # Zone outlines are drawn from the zones' boundaries.
    assert int(city_map.get_attribute("data-zones") or 0) > 0
    assert page.locator("#city-map path.zone-outline").count() > 0

    # Filter by zone: the count drops to that zone's cameras and the clusters still add up.
    zone_filter = page.get_by_test_id("zone-filter")
    # Every zone is offered with its camera count (the fixture's two zones hold none).
    labels = zone_filter.locator("option").all_inner_texts()
    assert labels[0] == "All zones" and "North (0)" in labels
    option = zone_filter.locator("option").filter(has_not_text=re.compile(r"\(0\)|All zones")).first
    zone_id, label = option.get_attribute("value"), option.inner_text()
    in_zone = Camera.objects.filter(zone_id=int(zone_id or 0)).count()
    assert 0 < in_zone < SEEDED and label.endswith(f"({in_zone:,})"), label
    zone_filter.select_option(zone_id)
    expect(status).to_have_text(f"{in_zone:,} of 2,880 cameras")
    assert wait_drawn(page, in_zone) == in_zone

    # And by type, within the zone: vehicle cameras only.
    vehicles = Camera.objects.filter(zone_id=int(zone_id or 0), kind=Camera.Kind.VEHICLE).count()
    page.get_by_test_id("kind-filter").select_option("vehicle")
    expect(status).to_have_text(f"{vehicles:,} of 2,880 cameras")

    zone_filter.select_option("")
    page.get_by_test_id("kind-filter").select_option("")
    expect(status).to_have_text("2,880 cameras")
    assert wait_drawn(page, SEEDED) == SEEDED
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_camera_popup_shows_a_hostile_name_as_text(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    camera_make(zone=zones["north"], name=HOSTILE, place=HOSTILE, kind=Camera.Kind.PTZ)
    commissioner = make_user(Role.COMMISSIONER)
    trouble = watch_for_trouble(page)
    sign_in_commissioner(page, web_server, commissioner)
    expect(page.get_by_test_id("map-status")).to_have_text("1 camera", timeout=20000)

    page.locator("#city-map .camera-marker").click()
    popup = page.locator(".leaflet-popup .camera-popup")
    expect(popup.locator("h3")).to_have_text(HOSTILE)
    expect(popup).to_contain_text("PTZ")
    assert page.locator("img[src=x]").count() == 0
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_vehicle_camera_moves_and_changes_colour_live(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    vehicle = camera_make(zone=zones["north"], name="Patrol van 7", kind=Camera.Kind.VEHICLE)
    # An officer of the van's zone: the page shows the live-feed state beside the alert panel
    # (commissioners have no alert panel).
    officer = make_user(Role.OFFICER)
    trouble = watch_for_trouble(page)
    sign_in_verified(page, web_server, officer)
    marker = page.locator("#city-map .camera-marker")
    expect(marker).to_have_class(re.compile(r"health-unknown"), timeout=20000)
    expect(page.get_by_test_id("events-state")).to_have_attribute("data-state", "connected", timeout=20000)
    before = marker.bounding_box()

    # The ingest reports a frame from ~300 m east: the camera is online and moved.
    in_thread(
        lambda: camera_health_update(
            camera_id=vehicle.pk,
            health=Camera.Health.ONLINE,
            latitude=vehicle.latitude,
            longitude=vehicle.longitude + 0.003,
        )
    )
    expect(marker).to_have_class(re.compile(r"health-online"))
    expect(page.get_by_test_id("city-map")).to_have_attribute("data-moves", "1")
    after = marker.bounding_box()
    assert before and after and after["x"] > before["x"] + 20, (before, after)
    marker.click()
    expect(page.locator(".leaflet-popup .camera-popup")).to_contain_text("Online")
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_new_alert_appears_live_sorted_acknowledged_and_images_need_a_purpose(
    page, web_server, make_user, zones
) -> None:  # type: ignore[no-untyped-def]
    officer = make_user(Role.OFFICER)
    supervisor = make_user(Role.SUPERVISOR)
    pickpockets = watchlist_make(
        zone=zones["north"], created_by=supervisor, name="Pickpockets", priority=4,
        category=Watchlist.Category.HABITUAL_OFFENDER,
    )  # fmt: skip
    missing = watchlist_make(
        zone=zones["north"], created_by=supervisor, name="Missing children", priority=1,
        category=Watchlist.Category.MISSING_PERSON,
    )  # fmt: skip
    active = {"created_by": officer, "approved_by": supervisor, "status": Subject.Status.ACTIVE}
    habitual = subject_make(watchlist=pickpockets, full_name="Known pickpocket", **active)
    child = subject_make(watchlist=missing, full_name=HOSTILE, **active)
    photo = photo_make(subject=child, created_by=officer)
    camera = camera_make(zone=zones["north"], name="Swargate gate 2")
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[pickpockets, missing], zones=[zones["north"]]
    )
    alert_make(subject=habitual, camera=camera, operation=operation, score=0.71)  # open before the page

    trouble = watch_for_trouble(page)
    sign_in_verified(page, web_server, officer)
    panel = page.get_by_test_id("alert-panel")
    items = panel.get_by_test_id("alert-item")
    expect(items).to_have_count(1, timeout=20000)
    expect(page.get_by_test_id("events-state")).to_have_attribute("data-state", "connected", timeout=20000)
    expect(page.get_by_test_id("map-status")).to_have_text("1 camera")

    raised = alert_make(subject=child, camera=camera, operation=operation, score=0.83, matched_photo=photo)
    in_thread(lambda: alert_publish_on_commit(raised, "alert.created"))

    # Without reload: the priority-1 alert is on top, its name is text, its camera flashes.
    expect(items).to_have_count(2, timeout=10000)
    first = items.first
    expect(first.get_by_test_id("alert-subject")).to_have_text(HOSTILE)
    expect(first).to_have_attribute("data-priority", "1")
    expect(first).to_contain_text("Missing children")
    expect(first).to_contain_text("score 0.83 vs threshold")
    expect(first).to_contain_text("Swargate gate 2")
    expect(first).to_contain_text("IST")
    expect(page.get_by_test_id("alert-count")).to_have_text("2 open alerts")
    expect(page.get_by_test_id("city-map")).to_have_attribute("data-flashes", "1")
    assert page.locator("img[src=x]").count() == 0

    first.get_by_role("button", name="Acknowledge").click()
    expect(first.get_by_test_id("alert-status")).to_have_text("Acknowledged")
    expect(first).to_contain_text(f"claimed by {officer.username}")
    raised.refresh_from_db()
    assert raised.status == "acknowledged" and raised.assignee_id == officer.pk

    # Images only after a purpose; both come from the audited routes.
    viewed = AuditEvent.objects.filter(action__startswith="biometric.")
    assert page.locator(".alert-images img").count() == 0 and not viewed.exists()
    first.get_by_role("button", name="View images").click()
    first.get_by_label("Purpose of viewing").fill("Verifying the missing-child alert")
    with (
        page.expect_response(re.compile(r"/api/v1/alerts/\d+/probe/$")) as probe,
        page.expect_response(re.compile(r"/api/v1/alerts/\d+/enrolled/$")) as enrolled,
    ):
        first.get_by_role("button", name="Show images").click()
    assert probe.value.status == 200 and enrolled.value.status == 200
    # Audited reads are POSTs with the purpose in the body (issue 18 #12), never a URL to follow.
    assert probe.value.request.method == "POST" and "purpose" not in probe.value.url
    expect(first.locator(".alert-images img")).to_have_count(2)
    ALERT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ALERT_SCREENSHOT))
    purposes = dict(viewed.values_list("action", "purpose"))
    assert purposes == {
        "biometric.probe_view": "Verifying the missing-child alert",
        "biometric.photo_view": "Verifying the missing-child alert",
    }, purposes
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble
