"""The demo seed against the real Triton and PostgreSQL + pgvector: it enrols the dataset identities
through the enrolment service, is idempotent, marks the demo cameras and starts exactly one demo
operation over them; and the faces that composed demo frames show are identified as the person
pasted in (enrolled walkers above the watchlist's threshold, strangers and bystanders below it)."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.accounts.services import bootstrap_admin
from backend.audit.models import AuditEvent
from backend.cameras.models import Camera
from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.services import zone_seed
from backend.demo import seed as demo
from backend.demo.compose import compose_stream, composed_parse, walks
from backend.faces.inference_client import Face, get_client
from backend.operations.models import Operation
from backend.operations.selectors import cameras_under_operation, operations_active, operations_active_for_camera
from backend.watchlists.models import FaceTemplate, Subject, Watchlist
from backend.watchlists.search import template_search
from backend.zones.models import Zone
from tests.conftest import TEST_PASSWORD
from tests.factories import camera_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ENROLLED = [identity for identity in demo.DEMO_IDENTITIES if identity.enrolled]
FRAMES_CHECKED = 120  # the first minute of each composed camera at 2 fps


@pytest.fixture
def demo_ready(settings, tmp_path):  # type: ignore[no-untyped-def]
    """What `make run` has made before the demo seed: the zones, the first admin; and one camera of
    the registry at a demo place (the seed's camera there must be reused, not duplicated)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    zone_seed(zones=PUNE_ZONES)
    admin, _ = bootstrap_admin(username="admin", password=TEST_PASSWORD)
    seeded = camera_make(
        zone=Zone.objects.get(code="swargate"),
        code="pune-swargate-bus-stand-001",
        name="Swargate Bus Stand camera 1",
        place="Swargate Bus Stand",
        place_category="transit",
        group="swargate-bus-stand",
    )
    return admin, seeded


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Watchlist, Subject, FaceTemplate, Camera, Operation, AuditEvent)
    }


def test_demo_seed_enrols_marks_cameras_and_starts_one_operation(demo_ready, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    admin, seeded_camera = demo_ready
    summary = demo.demo_seed(datasets_dir=datasets_dir)
    assert summary["seeded"] and summary["operation_covers_watchlist"]
    assert set(summary["listings"].values()) == {"enrolled"}, summary["listings"]

    watchlist = Watchlist.objects.get(name=demo.WATCHLIST_NAME)
    assert watchlist.priority == 2 and watchlist.zone.code == demo.WATCHLIST_ZONE
    assert "not real" in watchlist.description
    enroller, approver = User.objects.get(username=demo.ENROLLER), User.objects.get(username=demo.APPROVER)
    assert not enroller.has_usable_password() and not approver.has_usable_password()
    subjects = {s.case_reference: s for s in Subject.objects.filter(watchlist=watchlist)}
    assert len(subjects) == len(ENROLLED) >= 6
    assert f"{demo.CASE_PREFIX}face_recognition:lin_manuel_miranda" in subjects
    for subject in subjects.values():
        assert subject.status == Subject.Status.ACTIVE
        assert subject.created_by == enroller and subject.approved_by == approver
        assert subject.templates.count() == 1 and subject.photos.count() == 1
        assert "demonstration only" in subject.legal_basis and "not real" in subject.notes
    # Every listing, approval and photo is an audit event of the demo accounts.
    actions = AuditEvent.objects.filter(actor_id__in=[enroller.pk, approver.pk]).values_list("action", flat=True)
    assert set(actions) == {
        "watchlist.create",
        "subject.create",
        "subject.photo_add",
        "subject.approve",
        "operation.request",
    }

    cameras = list(Camera.objects.filter(demo=True))
    assert len(cameras) == len(demo.DEMO_CAMERAS)
    assert seeded_camera.pk in {camera.pk for camera in cameras}  # the registry's camera, reused
    assert {camera.stream_kind for camera in cameras} == {Camera.StreamKind.FILE, Camera.StreamKind.COMPOSED}
    for camera in cameras:
        assert camera.sample_fps == demo.SAMPLE_FPS and camera.enabled
        if camera.stream_kind == Camera.StreamKind.FILE:
            assert (datasets_dir / camera.stream_url).is_file()
        else:
            composed_parse(camera.stream_url)
    events = AuditEvent.objects.filter(object_type="camera", object_id=str(seeded_camera.pk))
    assert sorted(events.values_list("action", flat=True)) == ["camera.demo_mark", "camera.update"]
    assert AuditEvent.objects.filter(action="camera.create").count() == len(demo.DEMO_CAMERAS) - 1

    (operation,) = operations_active().filter(demo=True)
    assert operation.authorised_by == admin and operation.requested_by == enroller
    assert list(operation.watchlists.all()) == [watchlist]
    assert {camera.pk for camera in cameras} <= set(cameras_under_operation().values_list("pk", flat=True))
    for camera in cameras:
        assert operation in operations_active_for_camera(camera=camera)

    # Idempotent: the second run finds everything and writes nothing, not even an audit event.
    before = counts()
    again = demo.demo_seed(datasets_dir=datasets_dir)
    assert counts() == before
    assert set(again["listings"].values()) == {"present"}
    assert all(outcome.startswith("present") for outcome in again["cameras"].values())

    out = io.StringIO()
    call_command("demo_seed", "--datasets", str(datasets_dir), stdout=out)
    assert f"{len(ENROLLED)}/{len(ENROLLED)} identities active" in out.getvalue()
    assert counts() == before


def test_without_datasets_nothing_is_seeded_and_the_folder_is_named(demo_ready, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-datasets"
    summary = demo.demo_seed(datasets_dir=missing)
    assert not summary["seeded"]
    assert str(missing) in summary["message"] and "FR_DATASETS_DIR" in summary["message"]
    out = io.StringIO()
    call_command("demo_seed", "--datasets", str(missing), stdout=out)
    assert "FR_DATASETS_DIR" in out.getvalue()
    assert not Watchlist.objects.exists() and not FaceTemplate.objects.exists()
    assert not Camera.objects.filter(demo=True).exists() and not Operation.objects.exists()


def jpeg(frame: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buffer.tobytes()


def nearest_face(faces: list[Face], x: float, y: float, width: float) -> Face | None:
    """The detected face centred nearest (x, y), if one is within half a face width."""
    near = [
        (abs((f.box[0] + f.box[2]) / 2 - x) + abs((f.box[1] + f.box[3]) / 2 - y), index)
        for index, f in enumerate(faces)
        if abs((f.box[0] + f.box[2]) / 2 - x) < width / 2 and abs((f.box[1] + f.box[3]) / 2 - y) < width / 2
    ]
    return faces[min(near)[1]] if near else None


def frames_at(url: str, numbers: set[int], datasets_dir: Path) -> Iterator[tuple[int, np.ndarray]]:
    for number, frame in enumerate(itertools.islice(compose_stream(url, datasets_dir=datasets_dir), max(numbers) + 1)):
        if number in numbers:
            yield number, frame


def test_composed_faces_are_identified_as_the_person_pasted_in(demo_ready, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    demo.demo_seed(datasets_dir=datasets_dir)
    watchlist = Watchlist.objects.get(name=demo.WATCHLIST_NAME)
    subject_key = {s.pk: s.case_reference.removeprefix(demo.CASE_PREFIX) for s in watchlist.subjects.all()}
    client = get_client()
    genuine: dict[str, list[float]] = {}
    strangers: list[float] = []
    bystanders: list[float] = []
    for camera in Camera.objects.filter(demo=True, stream_kind=Camera.StreamKind.COMPOSED).order_by("code"):
        spec = composed_parse(camera.stream_url)
        schedule = list(itertools.takewhile(lambda w: w.first_frame < FRAMES_CHECKED, walks(spec.seed, fps=spec.fps)))
        middles = {walk.first_frame + walk.frames // 2: walk for walk in schedule}
        for number, frame in frames_at(camera.stream_url, set(middles), datasets_dir):
            faces = client.detect_and_embed(jpeg(frame))
            walkers = [(walk, walk.at(number)) for walk in schedule if walk.at(number) is not None]
            matched: set[int] = set()
            for walk, where in walkers:
                assert where is not None
                face = nearest_face(faces, *where)
                assert face is not None and face.template is not None, f"{camera.code} frame {number}: no face"
                matched.add(id(face))
                found = template_search(
                    embedding=face.template, model_version=face.model_version, watchlists=[watchlist], k=1
                )
                best = found.candidates[0]
                if walk.identity.enrolled:
                    assert subject_key[best.subject_id] == walk.identity.key, f"{camera.code} frame {number}"
                    assert best.above_threshold, f"{walk.identity.key} scored {best.score:.3f}"
                    genuine.setdefault(walk.identity.key, []).append(best.score)
                else:
                    assert not best.above_threshold, f"stranger {walk.identity.key} scored {best.score:.3f}"
                    strangers.append(best.score)
            for face in faces:  # the crowd of the background video
                if id(face) in matched or face.template is None:
                    continue
                found = template_search(
                    embedding=face.template, model_version=face.model_version, watchlists=[watchlist], k=1
                )
                if found.candidates:
                    assert not found.candidates[0].above_threshold
                    bystanders.append(found.candidates[0].score)
    pasted = {identity.key for identity in ENROLLED if identity.paste}
    assert set(genuine) == pasted and strangers, "the first minute of the demo cameras shows every pasted person"
    print("\ncomposed faces, score against the enrolled photo (min / median / max, frames):")
    for key, scores in sorted(genuine.items()):
        print(f"  {key:40s} {min(scores):.3f} / {np.median(scores):.3f} / {max(scores):.3f}  ({len(scores)})")
    print(f"  strangers' best score: max {max(strangers):.3f} ({len(strangers)} faces)")
    if bystanders:
        print(f"  background crowd's best score: max {max(bystanders):.3f} ({len(bystanders)} faces)")


def test_the_hamilton_camera_shows_lin_manuel_miranda(demo_ready, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    demo.demo_seed(datasets_dir=datasets_dir)
    watchlist = Watchlist.objects.get(name=demo.WATCHLIST_NAME)
    lin = Subject.objects.get(case_reference=f"{demo.CASE_PREFIX}face_recognition:lin_manuel_miranda")
    camera = Camera.objects.get(demo=True, stream_url__endswith="short_hamilton_clip.mp4")
    capture = cv2.VideoCapture(str(datasets_dir / camera.stream_url))
    scores = []
    try:
        for number in itertools.count():
            ok, frame = capture.read()
            if not ok:
                break
            if 140 <= number <= 210 and number % 10 == 0:  # he faces the camera here
                for face in get_client().detect_and_embed(jpeg(frame)):
                    if face.template is None:
                        continue
                    found = template_search(
                        embedding=face.template, model_version=face.model_version, watchlists=[watchlist], k=1
                    )
                    if found.candidates and found.candidates[0].subject_id == lin.pk:
                        scores.append(found.candidates[0].score)
    finally:
        capture.release()
    assert sum(score >= watchlist.match_threshold for score in scores) >= 3, scores


@pytest.mark.django_db(transaction=True)  # the Celery worker must see committed rows
def test_make_run_demo_raises_alerts_within_seconds(demo_ready, datasets_dir, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The whole demo: seed, then a real ingest worker reads the demo cameras and a real Celery
    worker recognises; alerts appear for enrolled people on the replaying cameras, none for the
    crowds of the street videos."""
    from backend.alerts.models import Alert
    from backend.recognition.ingest import IngestWorker

    demo.demo_seed(datasets_dir=datasets_dir)
    started = time.monotonic()
    worker = IngestWorker(0, 1, reload_interval_s=1.0, health_interval_s=1.0)
    thread = threading.Thread(target=worker.run, name="demo-ingest", daemon=True)
    thread.start()
    first_alert_s = None
    try:
        deadline = started + 60
        while time.monotonic() < deadline:
            alerting = set(Alert.objects.values_list("camera__stream_url", flat=True))
            if first_alert_s is None and alerting:
                first_alert_s = time.monotonic() - started
            hamilton = any(url.endswith("short_hamilton_clip.mp4") for url in alerting)
            if len(alerting) >= 3 and hamilton:  # Lin-Manuel Miranda faces the camera ~5 s into the clip
                break
            time.sleep(0.5)
    finally:
        worker.stop()
        thread.join(timeout=15)
    alerts = list(Alert.objects.select_related("camera", "subject"))
    print(f"\nfirst demo alert {first_alert_s} s after ingest started; alerts: ")
    for alert in alerts:
        print(f"  {alert.camera.code:32s} {alert.subject.case_reference:45s} {alert.best_score:.3f}")
    assert first_alert_s is not None and first_alert_s < 20
    assert {alert.camera.stream_kind for alert in alerts} == {Camera.StreamKind.FILE, Camera.StreamKind.COMPOSED}
    for alert in alerts:
        assert alert.operation.demo
        if alert.camera.stream_kind == Camera.StreamKind.FILE:
            assert alert.camera.stream_url.endswith("short_hamilton_clip.mp4")
            assert alert.subject.case_reference.endswith("lin_manuel_miranda")
