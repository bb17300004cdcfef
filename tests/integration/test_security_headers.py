"""Hardening visible from outside: CSP and security headers, cookie flags, CSRF, no error text."""

from __future__ import annotations

import pytest
from django.test import Client

from backend.accounts.roles import Role
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_pages_carry_csp_and_security_headers(client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.COMMISSIONER).get("/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert len(response["X-Request-ID"]) >= 8


def test_session_cookie_is_httponly_and_login_needs_csrf(users_by_role) -> None:  # type: ignore[no-untyped-def]
    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/accounts/login/", {"username": "auditor-user", "password": TEST_PASSWORD})
    assert refused.status_code == 403  # no CSRF token
    strict.get("/accounts/login/")
    token = strict.cookies["csrftoken"].value
    accepted = strict.post(
        "/accounts/login/", {"username": "auditor-user", "password": TEST_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302
    assert accepted.cookies["sessionid"]["httponly"] is True
    assert accepted.cookies["sessionid"]["samesite"] == "Lax"


def test_session_api_writes_need_csrf(users_by_role) -> None:  # type: ignore[no-untyped-def]
    from tests.otp_helpers import login_verified

    client = Client(enforce_csrf_checks=True)
    login_verified(client, users_by_role[Role.ADMIN])
    response = client.post(
        "/api/v1/zones/",
        {"code": "x", "name": "X", "centre_lat": 18.5, "centre_lon": 73.8},
        content_type="application/json",
    )
    assert response.status_code == 403 and "CSRF" in response.json()["message"]


def test_unexpected_errors_echo_no_exception_text(client_as, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backend.accounts import api

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail: connection string postgres://x:y@z")

    monkeypatch.setattr(api.MeSerializer, "to_representation", explode)
    client = client_as(Role.OFFICER)
    client.raise_request_exception = False
    response = client.get("/api/v1/me/")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and "secret internal detail" not in response.content.decode()
    assert len(body["error_id"]) == 12


def test_login_endpoint_is_rate_limited(users_by_role, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()
    client = Client()
    statuses = [
        # A different username each time, so the lockout (per username and address) never triggers.
        client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody{i}", "password": "x"},
            content_type="application/json",
            REMOTE_ADDR="10.9.9.9",
        ).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [400] * 10 and statuses[-1] == 429
