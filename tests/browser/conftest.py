"""Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

# Playwright's sync API keeps an event loop running in the test thread, which makes Django refuse
# the test's own (synchronous) ORM calls. Only this pytest process gets the flag: the servers
# under test are started with it cleared (tests/conftest.py::_test_database_env).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium"):
        pytest.fail("chromium is not installed; `make setup` installs it (apt-get, as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    yield page
    # Let the last page's own requests (a stats fetch, a list reload) finish before the test's
    # database is flushed: a query still running in the web server while the flush's TRUNCATE takes
    # its locks deadlocked once. This fixture is torn down before the flush (the django_db mark's
    # fixture is set up first).
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # a page that never settles is the test's business
        page.wait_for_load_state("networkidle", timeout=5_000)
    context.close()
