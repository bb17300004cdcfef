"""Issue 18 #12: an audited read of a face cannot be forged by a link.

Photo, probe and evidence reads were GETs authenticated by the session cookie, with the purpose
in the query string: a link (or an <img> on any page) made an officer's browser record a "view"
with a purpose someone else wrote. Against the real ASGI server: the GET no longer reads, a POST
without the page's CSRF token (what another site can send) is refused, and neither leaves an
audit event; the dashboard's own POST (cookie + CSRF header) reads and is audited once."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from django.test import Client

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from tests.factories import alert_make, camera_make, operation_make, photo_make, subject_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FORGED = "checking the suspect for FIR 99/2026"


def _browser(user: Any) -> requests.Session:
    """A browser of this user: the session cookie a logged-in officer's browser holds."""
    client = Client()
    login_verified(client, user)
    browser = requests.Session()
    browser.cookies.set("sessionid", client.cookies["sessionid"].value)
    return browser


@pytest.fixture
def reads(zones, users_by_role) -> dict[str, str]:  # type: ignore[no-untyped-def]
    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    subject = subject_make(watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active")
    photo = photo_make(subject=subject, created_by=officer)
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
    )
    alert = alert_make(
        subject=subject, camera=camera_make(zone=zones["north"]), operation=operation, matched_photo=photo
    )
    return {
        "probe": f"/api/v1/alerts/{alert.pk}/probe/",
        "enrolled": f"/api/v1/alerts/{alert.pk}/enrolled/",
        "evidence": f"/api/v1/alerts/{alert.pk}/evidence/",
        "photo": f"/api/v1/photos/{photo.pk}/image/",
    }


def test_a_link_or_a_cross_site_post_records_no_read(web_server, users_by_role, reads) -> None:  # type: ignore[no-untyped-def]
    browser = _browser(users_by_role[Role.OFFICER])
    for name, path in reads.items():
        # The link: <a href> or <img src> with the session cookie and someone else's purpose.
        followed = browser.get(f"{web_server}{path}", params={"purpose": FORGED}, timeout=30)
        assert followed.status_code in (403, 405), (name, followed.status_code)
        # Another site's auto-submitting form: the cookie, but not the page's CSRF token.
        posted = browser.post(
            f"{web_server}{path}", data={"purpose": FORGED}, headers={"Origin": "https://evil.example"}, timeout=30
        )
        assert posted.status_code == 403, (name, posted.status_code)
        assert "CSRF" in posted.text, name
    assert not AuditEvent.objects.filter(purpose=FORGED).exists()


def test_the_dashboards_own_post_reads_and_is_audited_once(web_server, users_by_role, reads) -> None:  # type: ignore[no-untyped-def]
    browser = _browser(users_by_role[Role.OFFICER])
    token = secrets.token_hex(16)  # the dashboard sends its csrftoken cookie back as a header
    browser.cookies.set("csrftoken", token)
    headers = {"X-CSRFToken": token, "Origin": web_server}
    for name in ("probe", "enrolled", "photo"):
        shown = browser.post(f"{web_server}{reads[name]}", json={"purpose": FORGED}, headers=headers, timeout=30)
        assert shown.status_code == 200 and shown.content[:2] == b"\xff\xd8", (name, shown.status_code)
    zipped = browser.post(f"{web_server}{reads['evidence']}", json={"purpose": FORGED}, headers=headers, timeout=60)
    assert zipped.status_code == 200 and zipped.content[:2] == b"PK"
    actions = sorted(AuditEvent.objects.filter(purpose=FORGED).values_list("action", flat=True))
    assert actions == [
        "alert.evidence_export",
        "biometric.photo_view",
        "biometric.photo_view",
        "biometric.probe_view",
    ], actions
