"""Login with the second factor: enrolment at first login, verification, lockout, relaxation."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.otp_helpers import code_for, code_for_base32_secret, enrol, login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def password_login(client: Client, username: str, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7")


def test_first_login_enrols_a_second_factor_shown_once(make_user) -> None:  # type: ignore[no-untyped-def]
    officer = make_user(Role.OFFICER)
    client = Client()
    assert password_login(client, officer.username).status_code == 302
    # Until the factor is confirmed, nothing else is reachable: pages send the user to enrolment.
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/setup/")
    assert client.get("/api/v1/me/").json()["code"] == "second_factor_required"

    page = client.get("/accounts/2fa/setup/").content.decode()
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    assert "<svg" in page  # the QR code, rendered inline
    # Showing the page again discards that secret: it is shown once.
    second_page = client.get("/accounts/2fa/setup/").content.decode()
    assert secret not in second_page
    secret = second_page.split('data-testid="totp-secret">')[1].split("<")[0]

    response = client.post("/accounts/2fa/setup/", {"code": code_for_base32_secret(secret), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/api/v1/me/").json()["username"] == officer.username
    assert TOTPDevice.objects.filter(user=officer, confirmed=True).count() == 1
    actions = list(AuditEvent.objects.filter(actor=officer).order_by("sequence").values_list("action", flat=True))
    assert actions[:2] == ["auth.login", "auth.otp_enrolled"]


def test_enrolled_user_must_give_a_valid_code_at_login(make_user) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR)
    device = enrol(supervisor)
    client = Client()
    password_login(client, supervisor.username)
    assert client.get("/")["Location"].startswith("/accounts/2fa/verify/")
    wrong = client.post("/accounts/2fa/verify/", {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    time.sleep(1.1)  # django-otp throttles the device for a second after a wrong code
    assert client.post("/accounts/2fa/verify/", {"code": code_for(device), "next": "/"}).status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(actor=supervisor, action="auth.otp_failed").count() == 1


def test_commissioners_need_a_second_factor_too(make_user) -> None:  # type: ignore[no-untyped-def]
    """Finding 4 of issue 18: a commissioner's password alone opened city-wide figures and the
    authorisation of operations."""
    from rest_framework.test import APIClient

    commissioner = make_user(Role.COMMISSIONER)
    client = Client()
    password_login(client, commissioner.username)
    assert client.get("/")["Location"].startswith("/accounts/2fa/setup/")
    assert client.get("/api/v1/alerts/stats/").json()["code"] == "second_factor_required"
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": commissioner.username, "password": TEST_PASSWORD}, format="json"
    )
    assert token.status_code == 400 and token.json()["code"] == "second_factor_required"


@override_settings(SECOND_FACTOR_RELAXED=True)
def test_relaxed_setting_skips_the_second_factor(make_user) -> None:  # type: ignore[no-untyped-def]
    officer = make_user(Role.OFFICER)
    client = Client()
    assert password_login(client, officer.username)["Location"] == "/"


def test_lockout_after_repeated_failures_even_with_the_right_password(make_user) -> None:  # type: ignore[no-untyped-def]
    officer = make_user(Role.OFFICER)
    client = Client()
    statuses = [password_login(client, officer.username, "wrong-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = password_login(client, officer.username)
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    failures = AuditEvent.objects.filter(action="auth.login_failed", summary__username=officer.username)
    assert failures.count() >= 5
    assert not AuditEvent.objects.filter(action="auth.login", actor=officer).exists()
    # Another address is not locked out by this one's failures.
    other = Client().post(
        "/accounts/login/", {"username": officer.username, "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.0.8"
    )
    assert other.status_code == 302


def test_logout_is_recorded(make_user, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as(Role.AUDITOR)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="auditor-user").exists()


def test_admin_resets_a_lost_second_factor_with_a_second_admin(client_as, users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    from backend.accounts.tokens import token_create

    officer = users_by_role[Role.OFFICER]
    enrol(officer)
    _, key = token_create(user=officer, purpose="user")
    response = client_as(Role.ADMIN).post(f"/api/v1/users/{officer.pk}/reset-2fa/")
    assert response.status_code == 202 and response.json()["kind"] == "second_factor_reset"
    assert TOTPDevice.objects.filter(user=officer).count() == 1  # nothing happens on one admin's word
    second = APIClient()
    login_verified(second, make_user(Role.ADMIN, username="admin-two"))
    approved = second.post(f"/api/v1/account-changes/{response.json()['id']}/approve/")
    assert approved.status_code == 200
    assert not TOTPDevice.objects.filter(user=officer).exists()
    event = AuditEvent.objects.get(action="account.change_approve")
    assert event.actor_username == "admin-two" and event.object_id == str(officer.pk)
    assert event.summary["devices_removed"] == 1 and event.summary["tokens_revoked"] == 1
    assert AuditEvent.objects.get(action="account.change_request").actor_username == "admin-user"
    # Its personal tokens went with the authenticator (finding 6 of issue 18).
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/me/").status_code == 401
