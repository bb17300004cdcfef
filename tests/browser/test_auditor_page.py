"""The auditor's page in real Chromium against the real server: chain status with the last
signed checkpoint, the event log and its filters, CSV export with a purpose, hostile text that
stays text, and officers refused server-side."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.checkpoints import CHECKPOINT_FILE
from backend.audit.models import AuditEvent
from backend.audit.services import audit_checkpoint_create, audit_record, audit_record_system
from backend.dashboard.audit_views import PAGE_SIZE
from tests.browser.helpers import sign_in_verified, watch_for_trouble
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
SCREENSHOT = Path(settings.DATA_DIR) / "screenshots" / "auditor-page.png"


@pytest.fixture
def checkpoint_dir(settings, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The server's checkpoint folder, emptied for the test and restored afterwards: checkpoints
    name sequences of this test's chain, which the next test's database no longer has. The
    signing key stays in this test's temporary folder."""
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    saved = tmp_path / "saved-checkpoints"
    if directory.exists():
        shutil.move(directory, saved)
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if saved.exists():
            shutil.move(saved, directory)


def wait_for_events(page: Any) -> str:
    page.wait_for_selector("[data-testid=events-state]:not([data-state=loading])")
    return str(page.get_by_test_id("events-state").get_attribute("data-state"))


def actions_shown(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#audit-events tbody td.audit-action").all_inner_texts()]


def test_auditor_sees_the_chain_status_filters_events_and_exports(  # type: ignore[no-untyped-def]
    page, web_server, make_user, checkpoint_dir
) -> None:
    auditor = make_user(Role.AUDITOR, "auditor-pune")
    for step in range(PAGE_SIZE):  # older events, enough for a second page
        audit_record_system(action="test.bulk", summary={"step": step})
    for step in range(3):
        audit_record_system(action="test.alpha", object_type="test.thing", object_id=step, summary={"step": step})
    audit_record_system(action="test.beta", summary={"step": "b1"}, purpose="a reason")
    audit_record_system(action="test.beta", summary={"step": "b2"})
    checkpoint_sequence = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    audit_checkpoint_create()

    sign_in_verified(page, web_server, auditor, "/")
    trouble = watch_for_trouble(page)  # from here on: the sign-in pages are not this page's concern
    page.get_by_test_id("nav").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/audit/")
    assert page.get_by_test_id("nav").get_by_role("link", name="Audit log").get_attribute("aria-current") == "page"
    page.wait_for_selector("[data-testid=chain-status]:not([data-state=loading])")
    status = page.get_by_test_id("chain-status")
    assert status.get_attribute("data-state") == "ok", status.inner_text()
    assert status.inner_text().startswith("ok")
    assert int(page.get_by_test_id("chain-events").inner_text()) >= PAGE_SIZE + 5
    assert page.get_by_test_id("last-checkpoint").inner_text().startswith(f"Sequence {checkpoint_sequence}, signed")
    assert "IST" in page.get_by_test_id("last-checkpoint").inner_text()

    assert wait_for_events(page) == "loaded"
    shown = actions_shown(page)
    assert shown.count("test.alpha") == 3 and shown.count("test.beta") == 2
    assert "auth.login" in shown  # the auditor's own sign-in is in the log too
    first_time = page.locator("#audit-events tbody td.audit-time").first.inner_text()
    assert "IST" in first_time and ("ago" in first_time or "just now" in first_time)
    # Pages, with the keyboard: older events, then back to the newest.
    newest = page.locator("#audit-events tbody tr").first.get_attribute("data-sequence")
    assert page.locator("#audit-events tbody tr").count() == PAGE_SIZE
    assert page.get_by_test_id("audit-newer").is_disabled()
    page.get_by_test_id("audit-older").press("Enter")
    page.wait_for_selector(f"#audit-events tbody tr:first-child:not([data-sequence='{newest}'])")
    assert wait_for_events(page) == "loaded"
    assert set(actions_shown(page)) == {"test.bulk", "user.create"}
    assert page.get_by_test_id("audit-older").is_disabled()
    page.get_by_test_id("audit-newer").press("Enter")
    page.wait_for_selector(f"#audit-events tbody tr:first-child[data-sequence='{newest}']")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Filtering by action narrows the rows (a real GET form, sent with the keyboard).
    page.get_by_label("Action").fill("test.beta")
    page.get_by_label("Action").press("Enter")
    page.wait_for_url("**/audit/?*action=test.beta*")
    assert wait_for_events(page) == "loaded"
    assert actions_shown(page) == ["test.beta", "test.beta"]
    assert page.locator("#audit-events tbody td.audit-purpose").first.inner_text() == ""
    assert page.locator("#audit-events tbody td.audit-summary").first.inner_text() == "step: b2"

    # A prefix, then a filter that matches nothing: the empty state.
    page.goto(f"{web_server}/audit/?action=test.*")
    wait_for_events(page)
    assert set(actions_shown(page)) == {"test.alpha", "test.beta", "test.bulk"}
    page.goto(f"{web_server}/audit/?action=test.beta&date_to=2001-01-01")
    assert wait_for_events(page) == "empty"
    assert page.get_by_test_id("events-state").inner_text() == "No events match these filters."

    # The export keeps the filters and records its purpose.
    page.goto(f"{web_server}/audit/?action=test.beta")
    page.get_by_label("Purpose of the export").fill("quarterly review")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-events-")
    lines = Path(download.path()).read_text().splitlines()
    assert len(lines) == 3 and all(",test.beta," in line for line in lines[1:])
    export = AuditEvent.objects.get(action="audit.export")
    assert (export.purpose, export.actor_id, export.summary["filters"]) == (
        "quarterly review",
        auditor.pk,
        {"action": "test.beta"},
    )
    assert not trouble["console"], "\n".join(trouble["console"])
    assert not trouble["dialogs"]


def test_hostile_text_in_events_renders_as_text(page, web_server, make_user, checkpoint_dir) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user(Role.AUDITOR, "auditor-xss")
    # Created past the username validator on purpose: the event's actor snapshot is hostile.
    hostile_user = User.objects.create_user(username=HOSTILE, password=TEST_PASSWORD)
    audit_record(
        action="test.hostile", actor=hostile_user, object_type="test.thing", object_id=HOSTILE,
        summary={"note": HOSTILE}, purpose=HOSTILE,
    )  # fmt: skip

    sign_in_verified(page, web_server, auditor, "/")
    trouble = watch_for_trouble(page)
    page.goto(f"{web_server}/audit/")
    assert wait_for_events(page) == "loaded"
    row = page.locator("#audit-events tbody tr", has=page.locator("td.audit-action", has_text="test.hostile"))
    assert row.locator("td.audit-actor").inner_text() == HOSTILE
    assert row.locator("td.audit-object").inner_text() == f"test.thing #{HOSTILE}"
    assert row.locator("td.audit-purpose").inner_text() == HOSTILE
    assert row.locator("td.audit-summary").inner_text() == f"note: {HOSTILE}"

    # Echoed filter values (form fields, the export's hidden inputs, the API query) stay text too.
    page.goto(f"{web_server}/audit/?actor={HOSTILE}")
    assert wait_for_events(page) == "loaded"
    assert actions_shown(page) == ["test.hostile"]
    assert page.get_by_label("Actor (username)").input_value() == HOSTILE
    assert page.locator("form.audit-export input[name=actor_username]").input_value() == HOSTILE
    assert page.locator("main img").count() == 0
    assert not trouble["console"], "\n".join(trouble["console"])
    assert not trouble["dialogs"]


def test_officer_is_refused_the_auditor_page_and_api(page, web_server, make_user) -> None:  # type: ignore[no-untyped-def]
    officer = make_user(Role.OFFICER, "officer-audit")
    sign_in_verified(page, web_server, officer, "/")
    assert page.get_by_test_id("nav").get_by_role("link", name="Audit log").count() == 0
    assert page.locator("a[href='/audit/']").count() == 0
    # Refused by the server, not just hidden.
    response = page.goto(f"{web_server}/audit/")
    assert response is not None and response.status == 403
    assert page.locator("#audit-log").count() == 0
    for path in ("/api/v1/audit/events/", "/api/v1/audit/verify/", "/api/v1/audit/events/export.csv?purpose=x"):
        assert page.request.get(f"{web_server}{path}").status == 403, path


def test_a_forged_checkpoint_shows_the_chain_broken(page, web_server, make_user, checkpoint_dir) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user(Role.AUDITOR, "auditor-forgery")
    audit_checkpoint_create()
    path = checkpoint_dir / CHECKPOINT_FILE
    forged = json.loads(path.read_text().splitlines()[-1]) | {"hash": "0" * 64}  # the signature no longer matches
    path.write_text(path.read_text() + json.dumps(forged) + "\n")

    sign_in_verified(page, web_server, auditor, "/")
    trouble = watch_for_trouble(page)
    page.goto(f"{web_server}/audit/")
    page.wait_for_selector("[data-testid=chain-status]:not([data-state=loading])")
    status = page.get_by_test_id("chain-status")
    assert status.get_attribute("data-state") == "broken"
    assert status.inner_text() == f"BROKEN at sequence {forged['sequence']}: checkpoint line 2 has an invalid signature"
    last = page.get_by_test_id("last-checkpoint").inner_text()
    assert last == "Unavailable: the last checkpoint's signature is not valid."
    assert not trouble["console"], "\n".join(trouble["console"])
