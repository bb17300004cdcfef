"""Watchlists, listings and photos through the API: roles, zones, the two-person rule, expiry,
removal, audited photo views, retention of lapsed biometrics. Rows are made by factories; the
enrolment path through Triton is tested in test_enrolment.py."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.core.errors import PermissionDenied
from backend.core.retention import retention_run
from backend.watchlists import services
from backend.watchlists.models import FaceTemplate, Subject, SubjectPhoto, Watchlist
from tests.factories import photo_make, subject_make, template_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

WATCHLISTS, SUBJECTS, PHOTOS = "/api/v1/watchlists/", "/api/v1/subjects/", "/api/v1/photos/"


@pytest.fixture
def second_supervisor(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="supervisor-two")


@pytest.fixture
def watchlist(users_by_role, zones) -> Watchlist:  # type: ignore[no-untyped-def]
    return watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])


def as_user(user):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    client = APIClient()
    login_verified(client, user)
    return client


def listing(watchlist: Watchlist, **overrides: object) -> dict[str, object]:
    return {
        "watchlist": watchlist.pk,
        "full_name": "Ravi Kale",
        "aliases": ["Ravya"],
        "case_reference": "FIR 112/2026 Shivajinagar",
        "legal_basis": "Non-bailable warrant, JMFC Pune, 3 Nov 2026",
        "expires_at": (timezone.now() + timedelta(days=90)).isoformat(),
        **overrides,
    }


def with_template(subject: Subject, created_by) -> SubjectPhoto:  # type: ignore[no-untyped-def]
    photo = photo_make(subject=subject, created_by=created_by)
    template_make(photo=photo, embedding=np.random.default_rng(subject.pk).normal(size=128))
    return photo


# --- watchlists -------------------------------------------------------------------------------------


def test_supervisor_creates_a_watchlist_in_own_zone_only(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    supervisor = client_as(Role.SUPERVISOR)
    body = {"name": "Chain snatchers", "category": "habitual_offender", "priority": 2, "zone": zones["north"].pk}
    created = supervisor.post(WATCHLISTS, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["match_threshold"] == pytest.approx(0.92)
    assert AuditEvent.objects.filter(action="watchlist.create", object_id=str(created.json()["id"])).exists()

    elsewhere = supervisor.post(WATCHLISTS, body | {"zone": zones["south"].pk}, format="json")
    assert elsewhere.status_code == 400 and "zone" in elsewhere.json()["errors"]
    duplicate = supervisor.post(WATCHLISTS, body, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_watchlist"
    too_loose = supervisor.post(WATCHLISTS, body | {"name": "Loose", "match_threshold": 0.5}, format="json")
    assert too_loose.status_code == 400 and "match_threshold" in too_loose.json()["errors"]
    assert client_as(Role.OFFICER).post(WATCHLISTS, body | {"name": "x"}, format="json").status_code == 403


def test_watchlist_with_subjects_cannot_be_deleted_but_can_be_deactivated(client_as, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    supervisor = client_as(Role.SUPERVISOR)
    refused = supervisor.delete(f"{WATCHLISTS}{watchlist.pk}/")
    assert refused.status_code == 409 and refused.json()["code"] == "watchlist_in_use"
    assert supervisor.patch(f"{WATCHLISTS}{watchlist.pk}/", {"active": False}, format="json").json()["active"] is False
    event = AuditEvent.objects.get(action="watchlist.update", object_id=str(watchlist.pk))
    assert event.summary["changed"] == {"active": {"before": True, "after": False}}


def test_commissioner_sees_counts_only(client_as, watchlist, users_by_role, second_supervisor) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    subject_make(watchlist=watchlist, created_by=officer, full_name="Pending Person")
    subject_make(watchlist=watchlist, created_by=officer, approved_by=second_supervisor, status="active")
    commissioner = client_as(Role.COMMISSIONER)
    assert commissioner.get(WATCHLISTS).status_code == 403
    assert commissioner.get(SUBJECTS).status_code == 403
    stats = commissioner.get(f"{WATCHLISTS}stats/")
    assert stats.status_code == 200
    [row] = stats.json()
    assert row["subjects_total"] == 2 and row["subjects_matching"] == 1 and row["subjects_pending"] == 1
    assert "Pending Person" not in stats.content.decode()


def test_zone_scoping_hides_other_zones(client_as, watchlist, users_by_role, make_user) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    south_officer = as_user(make_user(Role.OFFICER, username="south-officer", zone_codes=("south",)))
    assert south_officer.get(WATCHLISTS).json()["results"] == []
    assert south_officer.get(f"{SUBJECTS}{subject.pk}/").status_code == 404
    assert south_officer.post(SUBJECTS, listing(watchlist), format="json").status_code == 400
    auditor = client_as(Role.AUDITOR)  # city-wide read
    assert auditor.get(f"{SUBJECTS}{subject.pk}/").status_code == 200
    assert auditor.post(SUBJECTS, listing(watchlist), format="json").status_code == 403


# --- listings: creation, approval, changes, removal ---------------------------------------------------


def test_listing_lifecycle_with_the_two_person_rule(client_as, watchlist, users_by_role, second_supervisor) -> None:  # type: ignore[no-untyped-def]
    supervisor = client_as(Role.SUPERVISOR)
    created = supervisor.post(SUBJECTS, listing(watchlist), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "pending" and body["created_by"] == "supervisor-user" and body["matching"] is False
    subject = Subject.objects.get(pk=body["id"])

    no_photo = as_user(second_supervisor).post(f"{SUBJECTS}{subject.pk}/approve/")
    assert no_photo.status_code == 409 and no_photo.json()["code"] == "no_templates"
    with_template(subject, users_by_role[Role.SUPERVISOR])

    assert client_as(Role.OFFICER).post(f"{SUBJECTS}{subject.pk}/approve/").status_code == 403
    own = supervisor.post(f"{SUBJECTS}{subject.pk}/approve/")
    assert own.status_code == 403 and own.json()["code"] == "self_approval"
    approved = as_user(second_supervisor).post(f"{SUBJECTS}{subject.pk}/approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "active" and approved.json()["approved_by"] == "supervisor-two"
    assert approved.json()["matching"] is True
    again = as_user(second_supervisor).post(f"{SUBJECTS}{subject.pk}/approve/")
    assert again.status_code == 409
    assert again.json() == {"code": "invalid_status", "message": "A listing that is active cannot be approved."}

    # A material change (the legal basis) sends it back for approval; a note does not.
    officer = client_as(Role.OFFICER)
    noted = officer.patch(f"{SUBJECTS}{subject.pk}/", {"notes": "seen near the bus stand"}, format="json")
    assert noted.json()["status"] == "active"
    changed = officer.patch(f"{SUBJECTS}{subject.pk}/", {"legal_basis": "Proclamation u/s 82"}, format="json")
    assert changed.json()["status"] == "pending" and changed.json()["approved_by"] is None

    actions = list(
        AuditEvent.objects.filter(object_type="subject", object_id=str(subject.pk)).values_list("action", flat=True)
    )
    assert actions[:1] == ["subject.create"] and "subject.approve" in actions and actions.count("subject.update") == 2


def test_listing_needs_a_legal_basis_and_a_bounded_expiry(client_as, watchlist) -> None:  # type: ignore[no-untyped-def]
    officer = client_as(Role.OFFICER)
    assert officer.post(SUBJECTS, listing(watchlist, legal_basis=""), format="json").status_code == 400
    past = officer.post(
        SUBJECTS, listing(watchlist, expires_at=(timezone.now() - timedelta(hours=1)).isoformat()), format="json"
    )
    assert past.status_code == 400 and past.json()["code"] == "expiry_in_past"
    far = officer.post(
        SUBJECTS, listing(watchlist, expires_at=(timezone.now() + timedelta(days=3000)).isoformat()), format="json"
    )
    assert far.status_code == 400 and far.json()["code"] == "expiry_too_far"
    draft = officer.post(SUBJECTS, listing(watchlist, submit=False), format="json")
    assert draft.json()["status"] == "draft"
    assert officer.post(f"{SUBJECTS}{draft.json()['id']}/submit/").json()["status"] == "pending"


def test_reject_and_remove_need_a_reason_and_removal_keeps_the_record(client_as, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    supervisor = client_as(Role.SUPERVISOR)
    assert supervisor.post(f"{SUBJECTS}{subject.pk}/reject/", {"reason": ""}, format="json").status_code == 400
    rejected = supervisor.post(f"{SUBJECTS}{subject.pk}/reject/", {"reason": "warrant number missing"}, format="json")
    assert rejected.json()["status"] == "draft" and rejected.json()["status_reason"] == "warrant number missing"
    officer = client_as(Role.OFFICER)
    # Never deleted, only removed: no role may DELETE a listing (the matrix lists no DELETE).
    assert officer.delete(f"{SUBJECTS}{subject.pk}/").status_code == 403
    assert Subject.objects.filter(pk=subject.pk).exists()
    removed = officer.post(f"{SUBJECTS}{subject.pk}/remove/", {"reason": "arrested 20 Nov"}, format="json")
    assert removed.json()["status"] == "removed"
    again = officer.patch(f"{SUBJECTS}{subject.pk}/", {"notes": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "subject_removed"


def test_search_filter_and_pagination(client_as, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    officer_user = users_by_role[Role.OFFICER]
    subject_make(watchlist=watchlist, created_by=officer_user, full_name="Sunil Jadhav", case_reference="FIR 7/2026")
    subject_make(watchlist=watchlist, created_by=officer_user, full_name="Anil Pawar", status="draft")
    officer = client_as(Role.OFFICER)
    found = officer.get(SUBJECTS, {"search": "jadhav"}).json()
    assert [s["full_name"] for s in found["results"]] == ["Sunil Jadhav"]
    assert [s["full_name"] for s in officer.get(SUBJECTS, {"status": "draft"}).json()["results"]] == ["Anil Pawar"]
    page = officer.get(SUBJECTS, {"limit": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1


# --- photos -----------------------------------------------------------------------------------------


def test_viewing_an_enrolled_photo_needs_a_purpose_and_is_audited(client_as, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    photo = with_template(subject, users_by_role[Role.OFFICER])
    auditor = client_as(Role.AUDITOR)
    listed = auditor.get(PHOTOS, {"subject": subject.pk}).json()["results"]
    assert listed[0]["templates"][0]["model_version"] == "test-model@1"
    url = listed[0]["image_url"]
    refused = auditor.post(url)
    assert refused.status_code == 400 and refused.json()["code"] == "purpose_required"
    assert auditor.get(url, {"purpose": "quarterly audit of listings"}).status_code in (403, 405)  # never a GET
    shown = auditor.post(url, {"purpose": "quarterly audit of listings"}, format="json")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg" and shown.content[:3] == b"\xff\xd8\xff"
    assert "no-store" in shown["Cache-Control"]
    event = AuditEvent.objects.get(action="biometric.photo_view", object_id=str(photo.pk))
    assert event.purpose == "quarterly audit of listings" and event.actor_username == "auditor-user"


def test_last_photo_of_an_active_listing_cannot_be_deleted(
    client_as, watchlist, users_by_role, second_supervisor, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(
        watchlist=watchlist, created_by=users_by_role[Role.OFFICER], approved_by=second_supervisor, status="active"
    )
    first = with_template(subject, users_by_role[Role.OFFICER])
    officer = client_as(Role.OFFICER)
    refused = officer.delete(f"{PHOTOS}{first.pk}/")
    assert refused.status_code == 409 and refused.json()["code"] == "last_photo"
    with_template(subject, users_by_role[Role.OFFICER])
    name = first.image.name
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the deletion commits
        assert officer.delete(f"{PHOTOS}{first.pk}/").status_code == 204
    assert not FaceTemplate.objects.filter(photo_id=first.pk).exists()
    assert not default_storage.exists(name)


def test_a_photo_removed_from_an_active_listing_sends_it_back_for_approval(
    client_as, watchlist, users_by_role, second_supervisor
) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(
        watchlist=watchlist, created_by=users_by_role[Role.OFFICER], approved_by=second_supervisor, status="active"
    )
    first = with_template(subject, users_by_role[Role.OFFICER])
    with_template(subject, users_by_role[Role.OFFICER])
    assert client_as(Role.OFFICER).delete(f"{PHOTOS}{first.pk}/").status_code == 204
    subject.refresh_from_db()
    assert subject.status == Subject.Status.PENDING and subject.approved_by is None
    event = AuditEvent.objects.get(action="subject.photo_delete", object_id=str(subject.pk))
    assert event.summary["status"] == {"before": "active", "after": "pending"}


# --- finding 5 of issue 18: whoever edited a listing does not approve it ---------------------------


def test_a_supervisor_who_edited_a_pending_listing_cannot_approve_it(
    client_as, watchlist, users_by_role, second_supervisor, make_user
) -> None:  # type: ignore[no-untyped-def]
    """The attack: a supervisor edits an officer's pending listing (name, legal basis, photos) and
    then approves it alone."""
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    with_template(subject, users_by_role[Role.OFFICER])
    editor = as_user(second_supervisor)
    edited = editor.patch(f"{SUBJECTS}{subject.pk}/", {"legal_basis": "Another warrant, JMFC Pune"}, format="json")
    assert edited.status_code == 200, edited.json()
    refused = editor.post(f"{SUBJECTS}{subject.pk}/approve/")
    assert refused.status_code == 403 and refused.json()["code"] == "self_approval"
    subject.refresh_from_db()
    assert subject.status == Subject.Status.PENDING

    third = as_user(make_user(Role.SUPERVISOR, username="supervisor-three"))
    assert third.post(f"{SUBJECTS}{subject.pk}/approve/").status_code == 200


def test_a_supervisor_who_changed_the_photos_cannot_approve_the_listing(
    watchlist, users_by_role, second_supervisor
) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    first = with_template(subject, users_by_role[Role.OFFICER])
    with_template(subject, users_by_role[Role.OFFICER])
    services.subject_photo_delete(photo=first, actor=second_supervisor)
    with pytest.raises(PermissionDenied) as refused:
        services.subject_approve(subject=subject, actor=second_supervisor)
    assert refused.value.code == "self_approval"
    # An edit before the listing's last approval does not bar the next approval.
    services.subject_approve(subject=subject, actor=users_by_role[Role.SUPERVISOR])
    services.subject_update(subject=subject, actor=users_by_role[Role.SUPERVISOR], full_name="Ravi S. Kale")
    services.subject_approve(subject=subject, actor=second_supervisor)


# --- expiry and retention ---------------------------------------------------------------------------


def test_expiry_job_marks_listings_and_retention_purges_their_biometrics(
    watchlist, users_by_role, second_supervisor, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    lapsed = subject_make(watchlist=watchlist, created_by=officer, approved_by=second_supervisor, status="active")
    kept = subject_make(watchlist=watchlist, created_by=officer, approved_by=second_supervisor, status="active")
    lapsed_photo, kept_photo = with_template(lapsed, officer), with_template(kept, officer)
    Subject.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert services.subjects_expire() == 1
    lapsed.refresh_from_db()
    assert lapsed.status == "expired"
    assert AuditEvent.objects.filter(action="subject.expire", object_id=str(lapsed.pk), role="system").exists()

    assert retention_run()["watchlist_biometrics_lapsed"]["removed"] == 0  # still inside the grace period
    with django_capture_on_commit_callbacks(execute=True):
        report = retention_run(now=timezone.now() + timedelta(days=31))
    assert report["watchlist_biometrics_lapsed"]["removed"] == 1
    assert not SubjectPhoto.objects.filter(subject=lapsed).exists()
    assert not FaceTemplate.objects.filter(subject=lapsed).exists()
    assert not default_storage.exists(lapsed_photo.image.name)
    lapsed.refresh_from_db()
    assert lapsed.biometrics_purged_at is not None and lapsed.full_name  # the record of the listing stays
    assert SubjectPhoto.objects.filter(pk=kept_photo.pk).exists()
