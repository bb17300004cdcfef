"""Operation pages in real Chromium against the real server: an officer requests an operation
(a refusal comes back as a sentence), a supervisor of the zone authorises and starts it, and a
requester's own authorisation is refused by the server with the two-person rule's sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from backend.accounts.roles import Role
from backend.operations.models import Operation
from tests.browser.helpers import sign_in_verified, watch_for_trouble
from tests.factories import camera_make, operation_make, watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(settings.DATA_DIR) / "screenshots" / "operations.png"
REFUSED_400 = "the server responded with a status of 400"
REFUSED_403 = "the server responded with a status of 403"


def test_officer_requests_and_a_supervisor_authorises_and_starts(  # type: ignore[no-untyped-def]
    page, browser, web_server, make_user, zones
) -> None:
    supervisor = make_user(Role.SUPERVISOR, "north-supervisor")
    officer = make_user(Role.OFFICER, "north-officer")
    watchlist_make(zone=zones["north"], created_by=supervisor, name="Chain snatchers")
    cameras = [camera_make(zone=zones["north"], group="station-gates", health="online") for _ in range(2)]
    camera_make(zone=zones["south"], group="station-gates")  # another zone's camera of the group

    trouble = watch_for_trouble(page, expected=(REFUSED_400,))
    sign_in_verified(page, web_server, officer)
    nav = page.get_by_test_id("nav")
    assert nav.get_by_role("link", name="Match history").count() == 0
    assert nav.get_by_role("link", name="Statistics").count() == 0
    nav.get_by_role("link", name="Operations").click()
    page.wait_for_url("**/operations/")
    assert "No operations" in page.get_by_test_id("operations").inner_text()

    form = page.locator("#operation-form")
    form.get_by_label("Name").fill("Ganeshotsav crowd watch")
    form.get_by_label("Purpose").fill("Missing children at the immersion route")
    form.get_by_label("Authority reference").fill("DCP order 41/2026")
    form.get_by_label("Cameras by code").fill(cameras[0].code)
    form.get_by_label("Watchlists").select_option(label="Chain snatchers (North, priority 3)")
    form.get_by_label("Ends (IST)").fill("2020-01-01T10:00")  # before it starts: the API says no
    form.get_by_role("button", name="Request operation").click()
    result = page.get_by_test_id("form-result")
    expect(result).to_have_attribute("data-kind", "error")
    assert result.inner_text() == "The window must end after it starts."

    page.goto(f"{web_server}/operations/")  # a fresh form (a reload may restore the fields)
    form.get_by_label("Name").fill("Ganeshotsav crowd watch")
    form.get_by_label("Purpose").fill("Missing children at the immersion route")
    form.get_by_label("Authority reference").fill("DCP order 41/2026")
    form.get_by_label("Zones").select_option(label="North")
    form.get_by_label("Watchlists").select_option(label="Chain snatchers (North, priority 3)")
    form.get_by_role("button", name="Request operation").click()
    page.wait_for_url("**/operations/*/")
    expect(page.get_by_test_id("operation-status")).to_have_text("Requested")
    assert "other than you" in page.get_by_test_id("two-person").inner_text()
    assert page.get_by_role("button", name="Authorise").count() == 0  # officers do not authorise
    assert page.get_by_test_id("camera-count").inner_text() == "2"
    expect(page.get_by_test_id("cameras-state")).to_have_attribute("data-state", "loaded")
    assert page.locator("#operation-cameras tbody tr").count() == 2
    assert "Chain snatchers" in page.get_by_test_id("operation-watchlists").inner_text()
    operation = Operation.objects.get(name="Ganeshotsav crowd watch")
    assert operation.status == "requested" and operation.requested_by == officer
    assert page.get_by_test_id("requested-by").inner_text().startswith("north-officer")
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble

    # The supervisor of the zone, in a browser of their own.
    context = browser.new_context()
    other = context.new_page()
    try:
        sign_in_verified(other, web_server, supervisor)
        seen = watch_for_trouble(other)
        other.get_by_test_id("nav").get_by_role("link", name="Operations").click()
        other.get_by_role("link", name="Ganeshotsav crowd watch").click()
        two_person = other.get_by_test_id("two-person").inner_text()
        assert two_person == (
            "Requested by north-officer; must be authorised by a supervisor of North other than north-officer."
        )
        other.get_by_role("button", name="Authorise").click()
        expect(other.get_by_test_id("operation-status")).to_have_text("Authorised")
        assert other.get_by_test_id("authorised-by").inner_text().startswith("north-supervisor")
        other.get_by_role("button", name="Start").click()
        expect(other.get_by_test_id("operation-status")).to_have_text("Active")
        assert other.get_by_test_id("started-by").inner_text().startswith("north-supervisor")
        expect(other.get_by_test_id("cameras-state")).to_have_attribute("data-state", "loaded")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        other.screenshot(path=str(SCREENSHOT), full_page=True)
        operation.refresh_from_db()
        assert (operation.status, operation.authorised_by, operation.started_by) == ("active", supervisor, supervisor)

        other.goto(f"{web_server}/operations/?status=active")
        assert other.get_by_test_id("operation-link").all_inner_texts() == ["Ganeshotsav crowd watch"]
        other.goto(f"{web_server}/operations/?status=requested")
        assert other.get_by_test_id("operation-link").count() == 0
        assert seen["dialogs"] == [] and seen["console"] == [], seen
    finally:
        context.close()


def test_the_requester_cannot_authorise_their_own_request(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR, "requesting-supervisor")
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    operation = operation_make(
        requested_by=supervisor,
        authorised_by=None,
        status=Operation.Status.REQUESTED,
        watchlists=[watchlist],
        zones=[zones["north"]],
        zone=zones["north"],
        name="Own request",
    )
    sign_in_verified(page, web_server, supervisor, f"/operations/{operation.pk}/")
    trouble = watch_for_trouble(page, expected=(REFUSED_403,))
    assert page.get_by_test_id("two-person").inner_text() == (
        "You requested this operation; it must be authorised by a supervisor of North other than you."
    )
    page.get_by_role("button", name="Authorise").click()
    result = page.get_by_test_id("action-result")
    expect(result).to_have_attribute("data-kind", "error")
    assert result.inner_text() == "You requested this operation; someone else must authorise it."
    operation.refresh_from_db()
    assert operation.status == "requested" and operation.authorised_by is None
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_auditor_reads_operations_without_actions(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR)
    officer = make_user(Role.OFFICER)
    auditor = make_user(Role.AUDITOR)
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]], name="Audited"
    )
    sign_in_verified(page, web_server, auditor, "/operations/")
    assert page.locator("#operation-form").count() == 0
    page.get_by_role("link", name="Audited").click()
    expect(page.get_by_test_id("operation-status")).to_have_text("Active")
    assert page.get_by_role("button").filter(has_text="Authorise").count() == 0
    assert page.locator(".operation-actions").count() == 0
    assert page.url.endswith(f"/operations/{operation.pk}/")
