"""Enrolment and search by photo against the real Triton face pipeline and PostgreSQL + pgvector,
with real labelled photos from the shared datasets."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.faces.inference_client import get_client
from backend.watchlists import services
from backend.watchlists.models import FaceTemplate, Subject, Watchlist
from tests.factories import subject_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PHOTOS, IDENTIFY = "/api/v1/photos/", "/api/v1/identify/"

# identity -> (enrolment photo, probe photos of the same person)
GALLERY = {
    "angelina": ("deepface/img1.jpg", ["deepface/img2.jpg", "deepface/img4.jpg"]),
    "deepface_c03": ("deepface/img8.jpg", ["deepface/img9.jpg"]),
    "john_salley": (
        "dlib/examples/johns/John_Salley/000179_02159509.jpg",
        ["dlib/examples/johns/John_Salley/000183_02159543.jpg"],
    ),
    "amy": ("face_api_js/examples/images/amy/amy1.png", ["face_api_js/examples/images/amy/amy2.png"]),
    "sheldon": (
        "face_api_js/examples/images/sheldon/sheldon1.png",
        ["face_api_js/examples/images/sheldon/sheldon2.png"],
    ),
    "obama": (
        "face_recognition/examples/knn_examples/train/obama/obama.jpg",
        ["face_recognition/examples/knn_examples/train/obama/obama2.jpg"],
    ),
    "daryl": (
        "opencv4nodejs/data/face-recognition/imgs/daryl1.jpg",
        ["opencv4nodejs/data/face-recognition/imgs/daryl2.jpg"],
    ),
    "rick": (
        "opencv4nodejs/data/face-recognition/imgs/rick1.jpg",
        ["opencv4nodejs/data/face-recognition/imgs/rick2.jpg"],
    ),
}
# People who are on no list.
STRANGERS = [
    "deepface/img13.jpg",
    "deepface/img16.jpg",
    "dlib/examples/johns/John_Savage/000264_01099001.jpg",
    "face_api_js/examples/images/penny/penny1.png",
    "face_api_js/examples/images/howard/howard1.png",
    "opencv4nodejs/data/face-recognition/imgs/negan1.jpg",
    "face_recognition/examples/knn_examples/train/biden/biden.jpg",
]
TWO_PEOPLE = "face_recognition/examples/two_people.jpg"
NO_FACE = "face_api_js/test/images/white.png"


@pytest.fixture
def watchlist(zones, users_by_role) -> Watchlist:  # type: ignore[no-untyped-def]
    return watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR], name="Wanted")


@pytest.fixture
def approver(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="approver")


def read(datasets_dir: Path, relative: str) -> bytes:
    return (datasets_dir / relative).read_bytes()


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def encode(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buffer.tobytes()


def enrol_and_approve(watchlist, officer, approver, name: str, data: bytes) -> Subject:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=officer, full_name=name)
    services.subject_photo_add(subject=subject, data=data, actor=officer, source="test")
    return services.subject_approve(subject=subject, actor=approver)


def test_identification_on_the_datasets(watchlist, users_by_role, approver, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    """Enrol one photo each of eight people; other photos of them come back top-1 above the
    threshold, and photos of seven people who are not listed match nobody above it."""
    officer = users_by_role[Role.OFFICER]
    enrolled = {
        name: enrol_and_approve(watchlist, officer, approver, name, read(datasets_dir, photo)).pk
        for name, (photo, _) in GALLERY.items()
    }
    assert FaceTemplate.objects.filter(subject_id__in=enrolled.values()).count() == len(GALLERY)

    misses = []
    for name, (_, probes) in GALLERY.items():
        for probe in probes:
            result = services.photo_identify(
                data=read(datasets_dir, probe), actor=officer, purpose="dataset evaluation"
            )
            best = result["faces"][0]["candidates"][0]
            if best["subject_id"] != enrolled[name] or not best["above_threshold"]:
                misses.append((probe, best["subject_name"], best["score"]))
    assert misses == [], f"probes not identified top-1 above threshold: {misses}"

    false_matches = []
    for probe in STRANGERS:
        result = services.photo_identify(data=read(datasets_dir, probe), actor=officer, purpose="dataset evaluation")
        for face in result["faces"]:
            false_matches += [
                (probe, c["subject_name"], c["score"]) for c in face["candidates"] if c["above_threshold"]
            ]
    assert false_matches == [], f"strangers matched above threshold: {false_matches}"


def test_enrolment_through_the_api_answers_with_the_template(client_as, watchlist, users_by_role, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    officer = client_as(Role.OFFICER)
    data = read(datasets_dir, GALLERY["obama"][0])
    response = officer.post(
        PHOTOS, {"subject": subject.pk, "image": upload(data), "source": "CCTNS record", "captured_on": "2024-05-01"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    [template] = body["templates"]
    assert template["model_version"].startswith("detector=") and template["quality"]["interocular_px"] > 24
    assert body["content_type"] == "image/jpeg" and len(body["face_box"]) == 4
    event = AuditEvent.objects.get(action="subject.photo_add", object_id=str(subject.pk))
    assert event.summary["photo_id"] == body["id"] and "embedding" not in str(event.summary)

    duplicate = officer.post(PHOTOS, {"subject": subject.pk, "image": upload(data)})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_photo"


def test_two_faces_need_a_chosen_box(client_as, watchlist, users_by_role, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    officer = client_as(Role.OFFICER)
    data = read(datasets_dir, TWO_PEOPLE)
    refused = officer.post(PHOTOS, {"subject": subject.pk, "image": upload(data)})
    assert refused.status_code == 422 and refused.json()["code"] == "multiple_faces"
    boxes = refused.json()["boxes"]
    assert len(boxes) == 2
    chosen = officer.post(PHOTOS, {"subject": subject.pk, "image": upload(data), "box": boxes[1]})
    assert chosen.status_code == 201, chosen.json()
    assert chosen.json()["face_box"] == pytest.approx(boxes[1], abs=1.0)
    nowhere = officer.post(PHOTOS, {"subject": subject.pk, "image": upload(data), "box": [0, 0, 5, 5]})
    assert nowhere.status_code == 422 and nowhere.json()["code"] == "box_not_matched"


def _shrunk_until_small(data: bytes) -> bytes:
    """The portrait shrunk until the face is detected but under the enrolment size rule."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    [face] = get_client().detect_and_embed(data)
    scale = 20.0 / face.quality["interocular_px"]  # about 20 px between the eyes (rule: 24)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return encode(small)


def _blurred(data: bytes) -> bytes:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return encode(cv2.GaussianBlur(image, (0, 0), sigmaX=9))


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no_face", 422, "no_face"),
        ("small", 422, "face_too_small"),
        ("blurred", 422, "face_blurred"),
        ("truncated", 400, "corrupt_image"),
        ("gif", 400, "unsupported_type"),
        ("text", 400, "unsupported_type"),
        ("empty", 400, "empty_file"),
        ("huge", 400, "file_too_large"),
    ],
)
def test_each_bad_photo_gets_its_own_reason(
    case, status, code, client_as, watchlist, users_by_role, datasets_dir, settings
) -> None:  # type: ignore[no-untyped-def]
    portrait = read(datasets_dir, GALLERY["obama"][0])
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, format="GIF")
    payloads = {
        "no_face": lambda: read(datasets_dir, NO_FACE),
        "small": lambda: _shrunk_until_small(portrait),
        "blurred": lambda: _blurred(portrait),
        "truncated": lambda: portrait[: len(portrait) // 2],
        "gif": gif.getvalue,
        "text": lambda: b"name,photo\nsomeone,x.jpg\n",
        "empty": lambda: b"",
        "huge": lambda: b"\xff\xd8\xff" + b"\0" * (settings.UPLOAD_MAX_BYTES + 10),
    }
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    response = client_as(Role.OFFICER).post(PHOTOS, {"subject": subject.pk, "image": upload(payloads[case]())})
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert response.json()["message"]  # a sentence for the user
    assert not subject.photos.exists()


def test_expiry_stops_matching_at_once(watchlist, users_by_role, approver, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    subject = enrol_and_approve(watchlist, officer, approver, "obama", read(datasets_dir, GALLERY["obama"][0]))
    probe = read(datasets_dir, GALLERY["obama"][1][0])

    def matched() -> bool:
        faces = services.photo_identify(data=probe, actor=officer, purpose="expiry check")["faces"]
        return any(c["subject_id"] == subject.pk and c["above_threshold"] for c in faces[0]["candidates"])

    assert matched()
    Subject.objects.filter(pk=subject.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not matched()  # no job has run: the search itself refuses expired listings
    assert Subject.objects.get(pk=subject.pk).status == "active"


def test_identify_api_needs_a_purpose_is_audited_and_scoped(
    client_as, watchlist, users_by_role, approver, datasets_dir, make_user
) -> None:  # type: ignore[no-untyped-def]
    officer_user = users_by_role[Role.OFFICER]
    subject = enrol_and_approve(watchlist, officer_user, approver, "amy", read(datasets_dir, GALLERY["amy"][0]))
    probe = read(datasets_dir, GALLERY["amy"][1][0])
    officer = client_as(Role.OFFICER)

    no_purpose = officer.post(IDENTIFY, {"image": upload(probe), "purpose": " "})
    assert no_purpose.status_code == 400
    assert (
        client_as(Role.COMMISSIONER).post(IDENTIFY, {"image": upload(probe), "purpose": "curiosity"}).status_code == 403
    )

    response = officer.post(IDENTIFY, {"image": upload(probe), "purpose": "FIR 55/2026 suspect photo from complainant"})
    assert response.status_code == 200, response.json()
    [face] = response.json()["faces"]
    best = face["candidates"][0]
    assert best["subject_id"] == subject.pk and best["above_threshold"] and best["threshold"] == pytest.approx(0.92)
    assert best["watchlist_name"] == "Wanted" and 0.92 <= best["score"] <= 1.0
    event = AuditEvent.objects.filter(action="biometric.identify").latest("sequence")
    assert event.purpose == "FIR 55/2026 suspect photo from complainant" and event.actor_username == "officer-user"
    assert event.summary["returned"][0]["subject_id"] == subject.pk

    # An officer of another zone searches only the lists of their zone: nothing to find.
    south = APIClient()
    login_verified(south, make_user(Role.OFFICER, username="south-officer", zone_codes=("south",)))
    elsewhere = south.post(IDENTIFY, {"image": upload(probe), "purpose": "FIR 55/2026 suspect photo"})
    assert elsewhere.status_code == 200 and elsewhere.json()["faces"][0]["candidates"] == []
    assert elsewhere.json()["watchlists_searched"] == 0


def test_search_by_photo_is_rate_limited(client_as, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The "expensive" scope (API_RATE_EXPENSIVE, 30/minute by default), counted in Redis."""
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "expensive": "2/minute"}
    )
    cache.clear()
    officer = client_as(Role.OFFICER)
    statuses = [
        officer.post(IDENTIFY, {"image": upload(b""), "purpose": "rate limit check"}).status_code for _ in range(3)
    ]
    assert statuses == [400, 400, 429]
    cache.clear()


def test_enrolment_while_triton_is_away_says_so_and_stores_nothing(
    client_as, watchlist, users_by_role, datasets_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from backend.faces.inference_client import InferenceClient

    dead = InferenceClient("127.0.0.1:9", timeout_s=1.0, retries=1, backoff_s=0.05)  # nothing listens there
    monkeypatch.setattr(services, "get_client", lambda: dead)
    subject = subject_make(watchlist=watchlist, created_by=users_by_role[Role.OFFICER])
    response = client_as(Role.OFFICER).post(
        PHOTOS, {"subject": subject.pk, "image": upload(read(datasets_dir, GALLERY["obama"][0]))}
    )
    assert response.status_code == 503 and response.json()["code"] == "inference_unavailable"
    assert response.json() == {
        "code": "inference_unavailable",
        "message": "The face recognition service is unavailable; try again later.",
    }  # a sentence for the user, and nothing of the transport's error text
    assert not subject.photos.exists() and not AuditEvent.objects.filter(action="subject.photo_add").exists()


# --- finding 2 of issue 18: a photo changes whom an approved listing matches -----------------------


def test_a_photo_added_to_an_active_listing_sends_it_back_for_approval(
    client_as, watchlist, users_by_role, approver, datasets_dir
) -> None:  # type: ignore[no-untyped-def]
    """The attack: one officer adds a photo of someone else to an approved listing, whose new
    template would be searched at once. Now the listing stops matching until a supervisor who did
    not add the photo approves it again."""
    officer = users_by_role[Role.OFFICER]
    subject = enrol_and_approve(watchlist, officer, approver, "Obama", read(datasets_dir, GALLERY["obama"][0]))
    stranger = read(datasets_dir, "face_recognition/examples/knn_examples/train/biden/biden.jpg")

    def best_above_threshold(data: bytes) -> list[int]:
        result = services.photo_identify(data=data, actor=officer, purpose="finding 2 check")
        return [c["subject_id"] for face in result["faces"] for c in face["candidates"] if c["above_threshold"]]

    assert best_above_threshold(stranger) == []
    added = client_as(Role.OFFICER).post(PHOTOS, {"subject": subject.pk, "image": upload(stranger)})
    assert added.status_code == 201, added.json()
    subject.refresh_from_db()
    assert subject.status == Subject.Status.PENDING and subject.approved_by is None
    assert best_above_threshold(stranger) == []  # the stranger's new template is not searched
    assert best_above_threshold(read(datasets_dir, GALLERY["obama"][1][0])) == []  # nor the listing at all
    event = AuditEvent.objects.get(
        action="subject.photo_add",
        object_id=str(subject.pk),
        actor_username="officer-user",
        summary__photo_id=added.json()["id"],
    )
    assert event.summary["status"] == {"before": "active", "after": "pending"}

    services.subject_approve(subject=subject, actor=approver)  # a second person looked at the new face
    assert best_above_threshold(stranger) == [subject.pk]
