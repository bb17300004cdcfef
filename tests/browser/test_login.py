"""The login page and the city map, in real Chromium against the real ASGI server."""

from __future__ import annotations

import pytest

from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.services import zone_seed
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wrong_password_is_refused_then_login_shows_the_city_map(page, web_server) -> None:  # type: ignore[no-untyped-def]
    zone_seed(zones=PUNE_ZONES)
    user_create(username="commissioner-pune", password=TEST_PASSWORD, role=Role.COMMISSIONER)

    page.goto(f"{web_server}/")
    assert "/accounts/login/" in page.url  # anonymous visitors are sent to the login page

    page.fill("input[name=username]", "commissioner-pune")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.get_by_test_id("login-error").inner_text() == "Wrong username or password."

    page.fill("input[name=username]", "commissioner-pune")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#city-map[data-loaded]")
    assert page.get_by_test_id("who").inner_text() == "commissioner-pune · commissioner"
    # Every zone came from the API onto the map (as markers) and into the side list, with no tiles.
    assert page.locator("#city-map").get_attribute("data-loaded") == str(len(PUNE_ZONES))
    assert page.locator("[data-testid=zone-list] li").count() == len(PUNE_ZONES)
    assert page.locator("path.leaflet-interactive").count() == len(PUNE_ZONES)


def test_sign_out_ends_the_session(page, web_server) -> None:  # type: ignore[no-untyped-def]
    user_create(username="officer-pune", password=TEST_PASSWORD, role=Role.OFFICER)
    page.goto(f"{web_server}/accounts/login/")
    page.fill("input[name=username]", "officer-pune")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")
    page.click("form.logout button")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{web_server}/")
    assert "/accounts/login/" in page.url
