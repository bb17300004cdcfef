"""API tokens: one purpose each, revocable, stored hashed, issued with the second factor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
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
    issued = client_as(Role.ADMIN).post(
        "/api/v1/tokens/", {"purpose": "camera_push", "name": "edge box 17", "user": "officer-user"}, format="json"
    )
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
