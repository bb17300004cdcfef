"""Steps every browser test shares: signing in (with the second factor) and watching the page for
console errors and dialogs (an alert() from injected markup would open one)."""

from __future__ import annotations

from typing import Any

from tests.conftest import TEST_PASSWORD
from tests.otp_helpers import code_for, enrol

# Chromium logs every non-2xx fetch as a console error; a test that provokes a refusal on purpose
# passes the refusal's text in `expected`.
REFUSED_422 = "the server responded with a status of 422"


def sign_in(page: Any, web_server: str, username: str, password: str = TEST_PASSWORD) -> None:
    """Fill and send the login form ("main": the top bar's sign-out button is a submit too)."""
    page.goto(f"{web_server}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def sign_in_verified(page: Any, web_server: str, user: Any, next_path: str = "/") -> None:
    """Open next_path, sign in on the login page it sends to, then give the one-time code of a
    confirmed authenticator; lands on next_path."""
    device = enrol(user)
    page.goto(f"{web_server}{next_path}")
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/verify/**")
    page.fill("input[name=code]", code_for(device))
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


def watch_for_trouble(page: Any, *, expected: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Console errors, uncaught exceptions and dialogs seen by the page from now on."""
    trouble: dict[str, list[str]] = {"console": [], "dialogs": []}

    def on_console(message: Any) -> None:
        if message.type == "error" and not any(text in message.text for text in expected):
            trouble["console"].append(f"{message.text} ({message.location.get('url')})")

    def on_dialog(dialog: Any) -> None:
        trouble["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: trouble["console"].append(str(error)))
    page.on("dialog", on_dialog)
    return trouble
