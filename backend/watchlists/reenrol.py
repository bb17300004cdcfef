"""Model-version bookkeeping for re-enrolment."""

from __future__ import annotations

import io

from django.db import transaction
from PIL import Image

from backend.audit.services import audit_record_system
from backend.faces.inference_client import get_client

from .models import FaceTemplate


def serving_model_version() -> str:
    """The model version string the inference service serves now. A plain grey image has no face,
    but the answer still carries the version."""
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(blank, format="PNG")
    return get_client().detect_and_embed(blank.getvalue()).model_version


@transaction.atomic
def templates_prune(*, keep_version: str) -> int:
    removed, _ = FaceTemplate.objects.exclude(model_version=keep_version).delete()
    audit_record_system(
        action="template.prune",
        object_type="face_template",
        summary={"kept_model_version": keep_version, "removed": removed},
    )
    return removed
