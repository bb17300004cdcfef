"""The one-face and quality rules of enrolment, on hand-made detections (no services)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.faces.inference_client import Face
from backend.watchlists.services import EnrolmentError, _iou, face_quality_check, face_select


def face(box, *, interocular=40.0, sharpness=50.0, frontalness=0.9, passed=True):  # type: ignore[no-untyped-def]
    return Face(
        box=box,
        landmarks=((0.0, 0.0),) * 5,
        det_score=0.99,
        quality={
            "face_px": box[2] - box[0],
            "interocular_px": interocular,
            "sharpness": sharpness,
            "frontalness": frontalness,
        },
        passed_quality=passed,
        template=np.ones(128, np.float32) / np.sqrt(128) if passed else None,
        model_version="m@1",
    )


def test_iou() -> None:
    assert _iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert _iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert _iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert _iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_exactly_one_face_or_a_chosen_box() -> None:
    a, b = face((0, 0, 100, 100)), face((200, 0, 300, 100))
    with pytest.raises(EnrolmentError) as none:
        face_select([])
    assert none.value.code == "no_face"
    with pytest.raises(EnrolmentError) as two:
        face_select([a, b])
    assert two.value.code == "multiple_faces" and two.value.extra["boxes"] == [[0, 0, 100, 100], [200, 0, 300, 100]]
    assert face_select([a]) is a
    assert face_select([a, b], box=(195, 5, 305, 98)) is b
    with pytest.raises(EnrolmentError) as miss:
        face_select([a, b], box=(120, 0, 180, 50))
    assert miss.value.code == "box_not_matched"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"interocular": 18.0}, "face_too_small"),
        ({"interocular": 18.0, "sharpness": 1.0, "passed": False}, "face_too_small"),  # size is said first
        ({"sharpness": 2.0, "passed": False}, "face_blurred"),
        ({"frontalness": 0.1, "passed": False}, "face_not_frontal"),
    ],
)
def test_quality_reasons(kwargs, code, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENROL_MIN_INTEROCULAR_PX = 24
    with pytest.raises(EnrolmentError) as error:
        face_quality_check(face((0, 0, 100, 100), **kwargs))
    assert error.value.code == code and error.value.status_code == 422


def test_good_face_passes(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENROL_MIN_INTEROCULAR_PX = 24
    face_quality_check(face((0, 0, 100, 100)))
