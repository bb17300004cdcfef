"""API tokens: one purpose each, revocable, stored hashed, issued with the second factor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backend.accounts.models import ApiToken
from backend.accounts.roles import Role
from backend.accounts.tokens import token_create
from backend.audit.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.otp_helpers import code_for, enrol

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_officer_needs_the_one_time_code_for_a_token(users_by_role) -> None:  # type: ignore[no-untyped-def]
    device = enrol(users_by_role[Role.OFFICER])
    client = APIClient()
    refused = client.post("/api/v1/auth/token/", {"username": "officer-user", "password": TEST_PASSWORD}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "second_factor_required"
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "officer-user", "password": TEST_PASSWORD, "otp": code_for(device)},
        format="json",
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert with_token(key).get("/api/v1/me/").json()["username"] == "officer-user"
    stored = ApiToken.objects.get(user=users_by_role[Role.OFFICER])
    assert key not in (stored.key_hash, stored.prefix) and stored.key_hash != key  # only a hash is kept
    assert AuditEvent.objects.filter(action="token.issue", object_id=str(stored.pk)).exists()


def test_revoked_and_expired_tokens_are_refused(users_by_role) -> None:  # type: ignore[no-untyped-def]
    user = users_by_role[Role.COMMISSIONER]
    _, key = token_create(user=user, purpose="user")
    client = with_token(key)
    assert client.get("/api/v1/me/").status_code == 200
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401

    old, old_key = token_create(user=user, purpose="user", lifetime=timedelta(seconds=1))
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert with_token(old_key).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("purpose", ["service", "camera_push"])
def test_service_and_camera_tokens_reach_only_routes_that_accept_them(purpose, users_by_role) -> None:  # type: ignore[no-untyped-def]
    # Even an admin's camera-push token cannot administer users or read its profile.
    _, key = token_create(user=users_by_role[Role.ADMIN], purpose=purpose)
    client = with_token(key)
    assert client.get("/api/v1/me/").status_code == 403
    assert client.get("/api/v1/users/").status_code == 403


def test_only_admins_issue_service_tokens(client_as, users_by_role) -> None:  # type: ignore[no-untyped-def]
    refused = client_as(Role.SUPERVISOR).post("/api/v1/tokens/", {"purpose": "service", "name": "x"}, format="json")
    assert refused.status_code == 403
    admin = client_as(Role.ADMIN)
    body = {"purpose": "camera_push", "name": "edge box 17", "user": "officer-user"}
    assert admin.post("/api/v1/tokens/", body, format="json").json()["code"] == "second_factor_required"
    device = TOTPDevice.objects.get(user=users_by_role[Role.ADMIN])
    issued = admin.post("/api/v1/tokens/", body | {"otp": code_for(device)}, format="json")
    assert issued.status_code == 201
    body = issued.json()
    assert body["purpose"] == "camera_push" and len(body["key"]) > 30
    # The key is never shown again.
    listed = client_as(Role.ADMIN).get(f"/api/v1/tokens/{body['id']}/").json()
    assert "key" not in listed
    # The holder's user can see and revoke it; others cannot see it.
    assert client_as(Role.OFFICER).delete(f"/api/v1/tokens/{body['id']}/").status_code == 204
    assert client_as(Role.SUPERVISOR).get(f"/api/v1/tokens/{body['id']}/").status_code == 404
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is not None


# --- finding 6 of issue 18: tokens do not outlive the controls that issued them -------------------


def test_a_token_cannot_mint_tokens_without_a_one_time_code(users_by_role) -> None:  # type: ignore[no-untyped-def]
    """The attack: a stolen 30-day token mints a fresh one, and so on for ever."""
    officer = users_by_role[Role.OFFICER]
    device = enrol(officer)
    _, key = token_create(user=officer, purpose="user")
    client = with_token(key)
    refused = client.post("/api/v1/tokens/", {"purpose": "user", "name": "renewal"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "second_factor_required"
    wrong = client.post("/api/v1/tokens/", {"purpose": "user", "otp": "000000"}, format="json")
    assert wrong.status_code == 400
    assert ApiToken.objects.filter(user=officer).count() == 1
    assert AuditEvent.objects.filter(action="auth.otp_failed", actor_username="officer-user").count() == 2
    TOTPDevice.objects.get(pk=device.pk).throttle_reset()  # the wrong guess started django-otp's delay
    minted = client.post("/api/v1/tokens/", {"purpose": "user", "otp": code_for(device)}, format="json")
    assert minted.status_code == 201 and ApiToken.objects.filter(user=officer).count() == 2


def test_a_password_set_by_the_system_revokes_personal_tokens(users_by_role) -> None:  # type: ignore[no-untyped-def]
    from backend.accounts.services import user_update

    officer = users_by_role[Role.OFFICER]
    _, personal = token_create(user=officer, purpose="user")
    token_create(user=officer, purpose="camera_push")
    user_update(user=officer, password="a-fresh-long-passphrase-3")
    assert with_token(personal).get("/api/v1/me/").status_code == 401
    assert ApiToken.objects.get(purpose="camera_push").revoked_at is None  # not a personal credential


def test_a_username_with_a_nul_character_is_not_found(client_as) -> None:  # type: ignore[no-untyped-def]
    # Found by the API fuzz run: PostgreSQL refuses NUL in a query, which answered 500.
    response = client_as(Role.ADMIN).post("/api/v1/tokens/", {"purpose": "service", "user": "a\x00b"}, format="json")
    assert response.status_code == 400 and "user" in response.json()["errors"]


def test_a_password_set_outside_the_services_revokes_personal_tokens_too(users_by_role) -> None:  # type: ignore[no-untyped-def]
    """`manage.py changepassword` and a shell call set_password() and save() directly."""
    auditor = users_by_role[Role.AUDITOR]
    _, personal = token_create(user=auditor, purpose="user")
    auditor.last_name = "Deshmukh"
    auditor.save()  # any other change keeps the token
    assert with_token(personal).get("/api/v1/me/").status_code == 200
    auditor.set_password("changed-at-the-console-5")
    auditor.save()
    assert with_token(personal).get("/api/v1/me/").status_code == 401
