"""The whole claim in one browser: a camera pushes a frame with a listed face, the Celery worker
recognises it through Triton and pgvector, and the alert appears in the officer's open map page
without reload, within seconds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.accounts.roles import Role
from backend.cameras.services import camera_push_token_rotate
from tests.browser.helpers import sign_in_verified, watch_for_trouble
from tests.integration.test_live_pipeline import _push, listed  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APPEAR_WITHIN_MS = 20_000  # generous for a loaded CI machine; the benchmark measures the real figure


def test_an_alert_from_the_pipeline_appears_in_the_open_page(  # type: ignore[no-untyped-def]
    page: Any,
    web_server: str,
    celery_worker,
    listed,  # noqa: F811 - the fixture imported above
    users_by_role,
) -> None:
    officer = users_by_role[Role.OFFICER]
    key = camera_push_token_rotate(camera=listed["camera"], actor=users_by_role[Role.ADMIN])
    trouble = watch_for_trouble(page)
    sign_in_verified(page, web_server, officer)
    expect(page.get_by_test_id("events-state")).to_have_attribute("data-state", "connected", timeout=20000)
    items = page.get_by_test_id("alert-item")
    expect(items).to_have_count(0)
    pushed_at = time.monotonic()
    for _ in range(4):  # the person stays in view, a frame a second, until pooling says alert
        assert _push(web_server, listed["camera"], key, listed["probe"]).status_code == 202
        time.sleep(1.1)
        if items.count():
            break
    expect(items).to_have_count(1, timeout=APPEAR_WITHIN_MS)
    expect(items.first.get_by_test_id("alert-subject")).to_have_text("Listed Person")
    print(f"alert visible {time.monotonic() - pushed_at:.1f} s after the first push")
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble
