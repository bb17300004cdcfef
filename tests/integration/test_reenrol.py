"""Re-enrolment after a model change: resumable, never mixes versions, prunes on request."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.watchlists import services
from backend.watchlists.models import FaceTemplate
from backend.watchlists.reenrol import serving_model_version
from tests.factories import subject_make, watchlist_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PORTRAITS = ["face_recognition/examples/knn_examples/train/obama/obama.jpg", "deepface/img1.jpg"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("templates_reenrol", *args, stdout=out)
    return out.getvalue()


def test_reenrolment_makes_missing_templates_once_and_prunes_old_versions(zones, users_by_role, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])
    photos = []
    for index, path in enumerate(PORTRAITS):
        subject = subject_make(watchlist=watchlist, created_by=officer, full_name=f"person {index}")
        photos.append(
            services.subject_photo_add(subject=subject, data=(datasets_dir / path).read_bytes(), actor=officer)
        )
    current = serving_model_version()
    assert current.startswith("detector=")
    # As if the photos had been enrolled under an older model: their templates carry its version.
    FaceTemplate.objects.update(model_version="detector=old@0")

    first = run()
    assert f"serving model version: {current}" in first and "2 templates made" in first
    for photo in photos:
        assert set(photo.templates.values_list("model_version", flat=True)) == {current, "detector=old@0"}
    assert "0 templates made" in run()  # resumable: nothing is done twice

    pruned = run("--prune")
    assert "2 templates of other model versions deleted" in pruned
    assert set(FaceTemplate.objects.values_list("model_version", flat=True)) == {current}
    assert AuditEvent.objects.filter(action="subject.template_reenrol").count() == 2
    assert AuditEvent.objects.get(action="template.prune").summary["removed"] == 2
