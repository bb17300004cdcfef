"""The login page and the city map, in real Chromium against the real ASGI server."""

from __future__ import annotations

import pytest

from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.services import zone_seed
from tests.browser.helpers import sign_in
from tests.conftest import TEST_PASSWORD
from tests.otp_helpers import code_for, enrol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wrong_password_is_refused_then_login_shows_the_city_map(page, web_server) -> None:  # type: ignore[no-untyped-def]
    zone_seed(zones=PUNE_ZONES)
    device = enrol(user_create(username="commissioner-pune", password=TEST_PASSWORD, role=Role.COMMISSIONER))

    page.goto(f"{web_server}/")
    assert "/accounts/login/" in page.url  # anonymous visitors are sent to the login page

    page.fill("input[name=username]", "commissioner-pune")
    page.fill("input[name=password]", "wrong-password")
    page.click("main button[type=submit]")
    assert page.get_by_test_id("login-error").inner_text() == "Wrong username or password."

    page.fill("input[name=username]", "commissioner-pune")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    # Commissioners have a second factor too (issue 18).
    page.wait_for_url("**/accounts/2fa/verify/**")
    page.fill("input[name=code]", code_for(device))
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=map-status][data-state=ready]")
    assert page.get_by_test_id("who").inner_text() == "commissioner-pune · commissioner"
    # Every zone came from the API onto the map (no outlines yet: their centres) and into the zone
    # filter, with no tiles. The camera map itself is tested in test_city_map.py.
    assert page.locator("#city-map").get_attribute("data-zones") == str(len(PUNE_ZONES))
    assert page.locator("[data-testid=zone-filter] option").count() == len(PUNE_ZONES) + 1
    assert page.locator("path.zone-centre").count() == len(PUNE_ZONES)
    # The live-feed channel (WebSocket through Channels and the Redis layer) is up.
    page.wait_for_selector("[data-testid=live-feed][data-state=connected]")


def test_sign_out_ends_the_session(page, web_server) -> None:  # type: ignore[no-untyped-def]
    user_create(username="officer-pune", password=TEST_PASSWORD, role=Role.OFFICER)
    sign_in(page, web_server, "officer-pune")
    page.wait_for_selector("[data-testid=who]")
    page.click("form.logout button")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{web_server}/")
    assert "/accounts/login/" in page.url


def test_officer_enrols_the_second_factor_at_first_login(page, web_server) -> None:  # type: ignore[no-untyped-def]
    from tests.otp_helpers import code_for_base32_secret

    user_create(username="officer-first-login", password=TEST_PASSWORD, role=Role.OFFICER)
    sign_in(page, web_server, "officer-first-login")
    page.wait_for_url("**/accounts/2fa/setup/**")
    assert page.locator("[data-testid=qr] svg").count() == 1
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.fill("input[name=code]", "000000" if code_for_base32_secret(secret) != "000000" else "111111")
    page.click("main button[type=submit]")
    assert "did not match" in page.get_by_test_id("otp-error").inner_text()
    # A wrong code discards the shown secret: a new one is displayed.
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.fill("input[name=code]", code_for_base32_secret(secret))
    page.click("main button[type=submit]")
    page.wait_for_selector("#city-map")
    assert page.get_by_test_id("who").inner_text() == "officer-first-login · officer"
