"""Accounts through the API: admin manages users, roles and zones; zone scoping; tokens."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from backend.accounts.roles import Role
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_admin_creates_an_officer_in_a_zone(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    response = admin.post(
        "/api/v1/users/",
        {"username": "insp-patil", "password": "a-long-enough-passphrase-1", "role": "officer", "zones": ["north"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["role"] == "officer" and body["zones"] == ["north"] and "password" not in body


def test_weak_password_is_refused_with_the_reason(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.ADMIN).post(
        "/api/v1/users/", {"username": "weak", "password": "123", "role": "officer"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password" and "too short" in response.json()["message"]


def test_role_change_replaces_the_old_role(client_as, users_by_role) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    response = client_as(Role.ADMIN).patch(f"/api/v1/users/{officer.pk}/", {"role": "supervisor"}, format="json")
    assert response.status_code == 200
    officer.refresh_from_db()
    assert list(officer.groups.values_list("name", flat=True)) == ["supervisor"]


def test_admin_cannot_deactivate_themselves(client_as, users_by_role) -> None:  # type: ignore[no-untyped-def]
    admin = users_by_role[Role.ADMIN]
    response = client_as(Role.ADMIN).delete(f"/api/v1/users/{admin.pk}/")
    assert response.status_code == 400 and response.json()["code"] == "self_deactivation"


def test_officers_see_their_zones_commissioners_see_all(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    officer_codes = [z["code"] for z in client_as(Role.OFFICER).get("/api/v1/zones/").json()["results"]]
    commissioner_codes = [z["code"] for z in client_as(Role.COMMISSIONER).get("/api/v1/zones/").json()["results"]]
    assert officer_codes == ["north"]
    assert sorted(commissioner_codes) == ["north", "south"]
    assert client_as(Role.OFFICER).get(f"/api/v1/zones/{zones['south'].pk}/").status_code == 404


def test_me_reports_role_and_zones(client_as) -> None:  # type: ignore[no-untyped-def]
    body = client_as(Role.SUPERVISOR).get("/api/v1/me/").json()
    assert body["role"] == "supervisor" and body["zones"] == ["north"] and body["sees_all_zones"] is False


def test_token_auth_round_trip_and_revocation(users_by_role) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    # Commissioners need no second factor (officers do: see test_api_tokens.py).
    response = client.post(
        "/api/v1/auth/token/", {"username": "commissioner-user", "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["username"] == "commissioner-user"
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_wrong_password_gets_a_plain_error(users_by_role) -> None:  # type: ignore[no-untyped-def]
    response = APIClient().post("/api/v1/auth/token/", {"username": "officer-user", "password": "nope"}, format="json")
    assert response.status_code == 400 and response.json() == {
        "code": "invalid_credentials",
        "message": "Wrong username or password.",
    }


def test_schema_and_docs_are_served_locally(client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as(Role.AUDITOR)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/zones/" in paths and "/api/v1/users/" in paths
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()


def test_absurd_pagination_is_a_clear_400(client_as) -> None:  # type: ignore[no-untyped-def]
    # Found by the API fuzz run: an offset past bigint used to reach PostgreSQL and answer 500.
    response = client_as(Role.ADMIN).get("/api/v1/users/?offset=99999999999999999999")
    assert response.status_code == 400 and "offset" in response.json()["errors"]
