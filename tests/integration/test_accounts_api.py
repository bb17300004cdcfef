"""Accounts through the API: admin manages users, roles and zones; zone scoping; tokens."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from backend.accounts.models import AccountChange, User
from backend.accounts.roles import Role
from backend.accounts.tokens import token_create
from backend.audit.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.otp_helpers import code_for, enrol, login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def as_user(user: User) -> APIClient:
    client = APIClient()
    login_verified(client, user)
    return client


def test_admin_creates_an_officer_in_a_zone(client_as, zones, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    response = admin.post(
        "/api/v1/users/",
        {"username": "insp-patil", "password": "a-long-enough-passphrase-1", "role": "officer", "zones": ["north"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    # An officer reads faces: the account has no role until a second admin approves the grant.
    assert body["role"] is None and body["zones"] == ["north"] and "password" not in body
    [pending] = body["pending_changes"]
    assert pending["kind"] == "role_grant" and pending["role"] == "officer" and pending["status"] == "pending"
    second_admin = as_user(make_user(Role.ADMIN, username="admin-two"))
    approved = second_admin.post(f"/api/v1/account-changes/{pending['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert User.objects.get(username="insp-patil").role == Role.OFFICER


def test_weak_password_is_refused_with_the_reason(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.ADMIN).post(
        "/api/v1/users/", {"username": "weak", "password": "123", "role": "officer"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password" and "too short" in response.json()["message"]


def test_role_change_replaces_the_old_role(client_as, users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    response = client_as(Role.ADMIN).patch(f"/api/v1/users/{officer.pk}/", {"role": "supervisor"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "officer"  # waits for a second admin
    [pending] = response.json()["pending_changes"]
    as_user(make_user(Role.ADMIN, username="admin-two")).post(f"/api/v1/account-changes/{pending['id']}/approve/")
    officer.refresh_from_db()
    assert list(officer.groups.values_list("name", flat=True)) == ["supervisor"]


def test_demotion_to_a_role_that_reads_no_faces_applies_at_once(client_as, users_by_role) -> None:  # type: ignore[no-untyped-def]
    auditor = users_by_role[Role.AUDITOR]
    response = client_as(Role.ADMIN).patch(f"/api/v1/users/{auditor.pk}/", {"role": "commissioner"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "commissioner"
    assert response.json()["pending_changes"] == []


# --- finding 1 of issue 18: an admin has no route to biometric data ---------------------------------


def test_admin_cannot_change_their_own_role_zones_or_password(client_as, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    """The attack: PATCH /users/<own id>/ {"role": "auditor"}, then download an enrolled photo."""
    admin_user = users_by_role[Role.ADMIN]
    admin = client_as(Role.ADMIN)
    for change in ({"role": "auditor"}, {"zones": ["south"]}, {"password": "another-long-passphrase-9"}):
        refused = admin.patch(f"/api/v1/users/{admin_user.pk}/", change, format="json")
        assert refused.status_code == 403 and refused.json()["code"] == "self_change", change
    refused = admin.post(f"/api/v1/users/{admin_user.pk}/reset-2fa/")
    assert refused.status_code == 403 and refused.json()["code"] == "self_change"
    admin_user = User.objects.get(pk=admin_user.pk)
    assert admin_user.role == Role.ADMIN and admin_user.check_password(TEST_PASSWORD)
    assert not AccountChange.objects.exists()
    assert admin.get("/api/v1/photos/").status_code == 403
    # Repeating what is already so (a full form sends every field) is not a change.
    same = admin.patch(
        f"/api/v1/users/{admin_user.pk}/", {"role": "admin", "zones": ["north"], "first_name": "Asha"}, format="json"
    )
    assert same.status_code == 200 and same.json()["first_name"] == "Asha"


def test_granting_a_face_reading_role_needs_a_second_admin(client_as, users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    commissioner = users_by_role[Role.COMMISSIONER]
    first_admin = client_as(Role.ADMIN)
    asked = first_admin.patch(f"/api/v1/users/{commissioner.pk}/", {"role": "auditor"}, format="json")
    assert asked.status_code == 200 and asked.json()["role"] == "commissioner"
    change_id = asked.json()["pending_changes"][0]["id"]
    # Not applied yet; the requester cannot approve it; asking again is refused while it waits.
    assert User.objects.get(pk=commissioner.pk).role == Role.COMMISSIONER
    refused = first_admin.post(f"/api/v1/account-changes/{change_id}/approve/")
    assert refused.status_code == 403 and refused.json()["code"] == "self_approval"
    again = first_admin.patch(f"/api/v1/users/{commissioner.pk}/", {"role": "auditor"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "change_pending"
    # The beneficiary cannot approve it either (not an admin: the matrix refuses).
    assert as_user(commissioner).post(f"/api/v1/account-changes/{change_id}/approve/").status_code == 403

    approved = as_user(make_user(Role.ADMIN, username="admin-two")).post(
        f"/api/v1/account-changes/{change_id}/approve/"
    )
    assert approved.status_code == 200, approved.json()
    assert User.objects.get(pk=commissioner.pk).role == Role.AUDITOR
    events = AuditEvent.objects.filter(object_type="user", object_id=str(commissioner.pk)).order_by("id")
    request_event, approve_event = [e for e in events if e.action.startswith("account.change_")]
    assert (request_event.action, request_event.actor_username) == ("account.change_request", "admin-user")
    assert (approve_event.action, approve_event.actor_username) == ("account.change_approve", "admin-two")
    assert approve_event.summary["role"] == "auditor" and approve_event.summary["role_before"] == "commissioner"


def test_setting_another_users_password_needs_a_second_admin(client_as, users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    """The variant: set an auditor's password, then log in as them."""
    auditor = users_by_role[Role.AUDITOR]
    _, key = token_create(user=auditor, purpose="user")
    new_password = "an-admin-chosen-passphrase-7"
    asked = client_as(Role.ADMIN).patch(f"/api/v1/users/{auditor.pk}/", {"password": new_password}, format="json")
    assert asked.status_code == 200
    [pending] = asked.json()["pending_changes"]
    assert pending["kind"] == "password_set" and "password_hash" not in pending
    login = APIClient().post(
        "/api/v1/auth/token/", {"username": "auditor-user", "password": new_password}, format="json"
    )
    assert login.status_code == 400 and login.json()["code"] == "invalid_credentials"

    second = as_user(make_user(Role.ADMIN, username="admin-two"))
    assert second.post(f"/api/v1/account-changes/{pending['id']}/approve/").status_code == 200
    auditor.refresh_from_db()
    assert auditor.check_password(new_password)
    # The old personal token does not outlive the password (finding 6).
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/me/").status_code == 401
    change = AccountChange.objects.get(pk=pending["id"])
    assert change.password_hash == "" and change.decided_by.username == "admin-two"


def test_account_change_cannot_be_approved_by_its_requester_in_the_database(users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = users_by_role[Role.ADMIN]
    change = AccountChange.objects.create(
        user=users_by_role[Role.OFFICER], kind=AccountChange.Kind.SECOND_FACTOR_RESET, requested_by=admin
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountChange.objects.filter(pk=change.pk).update(status="approved", decided_by=admin)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountChange.objects.create(user=admin, kind=AccountChange.Kind.ROLE_GRANT, role="auditor", requested_by=admin)


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
    device = enrol(users_by_role[Role.COMMISSIONER])  # commissioners have a second factor too
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "commissioner-user", "password": TEST_PASSWORD, "otp": code_for(device)},
        format="json",
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
