"""The live pipeline against the real parts: Triton (detection + embeddings), PostgreSQL with
pgvector (1:N search, alerts), Redis (frames, pooling, broker, channel layer), a real Celery worker
and the real ASGI server with a WebSocket client.

In-process tests call the pipeline's frame function on frames put in Redis (fast, each case on
its own); the end-to-end tests push frames over HTTP with a camera's token and listen on
/ws/events/ as an officer would."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from django.db import connection
from django.test import Client

from backend.accounts.roles import Role
from backend.alerts.models import Alert, Sighting
from backend.audit.models import AuditEvent
from backend.cameras.models import Camera
from backend.cameras.services import camera_push_token_rotate
from backend.core.live_state import live_redis
from backend.faces.inference_client import InferenceClient
from backend.recognition import pipeline
from backend.recognition.frames import frame_id_new, frame_key
from backend.watchlists import services as watchlist_services
from backend.watchlists.models import FaceTemplate
from tests.factories import camera_make, operation_make, subject_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration]

ENROLLED = "face_recognition/examples/knn_examples/train/obama/obama.jpg"
PROBE = "face_recognition/examples/knn_examples/train/obama/obama2.jpg"
STRANGER = "deepface/img13.jpg"
EVENT_TIMEOUT_S = 30


def frame_put(camera: Camera, jpeg: bytes, *, captured_at: float | None = None) -> tuple[str, float]:
    captured_at = captured_at or time.time()
    frame_id = frame_id_new(camera.pk, captured_at)
    live_redis().set(frame_key(frame_id), jpeg, ex=30)
    return frame_id, captured_at


def process(camera: Camera, jpeg: bytes, **kwargs: Any) -> pipeline.FrameOutcome:
    frame_id, captured_at = frame_put(camera, jpeg, **kwargs)
    return pipeline.frame_process(frame_id=frame_id, camera_id=camera.pk, captured_at=captured_at, max_age_s=10)


@pytest.fixture
def listed(zones, users_by_role, make_user, datasets_dir: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A priority-1 list with one approved, enrolled person; a push camera in the list's zone under
    an active operation; a second camera in another zone that no operation covers."""
    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    approver = make_user(Role.SUPERVISOR, username="approver")
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor, priority=1, name="Missing children")
    subject = subject_make(watchlist=watchlist, created_by=officer, full_name="Listed Person")
    watchlist_services.subject_photo_add(
        subject=subject, data=(datasets_dir / ENROLLED).read_bytes(), actor=officer, source="test"
    )
    subject = watchlist_services.subject_approve(subject=subject, actor=approver)
    camera = camera_make(zone=zones["north"], stream_kind=Camera.StreamKind.PUSH, min_face_px=20)
    uncovered = camera_make(zone=zones["south"], stream_kind=Camera.StreamKind.PUSH, min_face_px=20)
    twin = camera_make(zone=zones["north"], stream_kind=Camera.StreamKind.PUSH, min_face_px=20)
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
    )
    return {
        "subject": subject,
        "watchlist": watchlist,
        "camera": camera,
        "uncovered": uncovered,
        "twin": twin,  # a second covered camera in the same zone
        "operation": operation,
        "probe": (datasets_dir / PROBE).read_bytes(),
        "enrolled": (datasets_dir / ENROLLED).read_bytes(),
        "stranger": (datasets_dir / STRANGER).read_bytes(),
    }


# --- in-process: one frame through the real Triton and pgvector ------------------------------------
@pytest.mark.django_db
def test_a_listed_face_raises_one_alert_with_its_subject_camera_and_operation(listed, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0  # one clear frame is enough here (pooling has its own test)
    outcome = process(listed["camera"], listed["probe"])
    assert outcome.status == "processed" and outcome.faces == 1 and len(outcome.alerts_created) == 1
    alert = Alert.objects.get()
    assert (alert.subject, alert.camera, alert.operation) == (listed["subject"], listed["camera"], listed["operation"])
    assert alert.zone == listed["camera"].zone and alert.priority == 1 and alert.status == Alert.Status.NEW
    assert alert.best_score >= alert.threshold == listed["watchlist"].match_threshold
    assert bytes(alert.probe_jpeg).startswith(b"\xff\xd8") and alert.matched_photo is not None
    assert alert.sightings.count() == 1 == alert.sightings_count
    raised = AuditEvent.objects.get(action="alert.raise")
    assert raised.object_id == str(alert.pk) and raised.summary["operation"] == listed["operation"].pk


@pytest.mark.django_db
def test_an_unlisted_face_leaves_nothing_behind(listed) -> None:  # type: ignore[no-untyped-def]
    templates_before = FaceTemplate.objects.count()
    outcome = process(listed["camera"], listed["stranger"])
    assert outcome.status == "processed" and outcome.faces == 1 and outcome.unmatched == 1
    assert not Alert.objects.exists() and not Sighting.objects.exists()
    assert FaceTemplate.objects.count() == templates_before  # no template of the passer-by
    store = live_redis()
    assert not store.keys(f"track:{listed['camera'].pk}:*")  # not even pooled state
    assert not store.keys(f"frame:{listed['camera'].pk}-*")  # and the frame itself is gone


@pytest.mark.django_db
def test_a_camera_outside_every_operation_raises_nothing(listed) -> None:  # type: ignore[no-untyped-def]
    outcome = process(listed["uncovered"], listed["probe"])
    assert outcome.status == "no_operation" and not Alert.objects.exists()


@pytest.mark.django_db
def test_an_ended_operation_stops_recognition_at_once(listed) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    listed["operation"].ends_at = timezone.now()
    listed["operation"].save()
    assert process(listed["camera"], listed["probe"]).status == "no_operation"


@pytest.mark.django_db
def test_repeated_frames_within_the_cooldown_add_sightings_not_alerts(listed, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    first = process(listed["camera"], listed["probe"])
    second = process(listed["camera"], listed["probe"])
    assert len(first.alerts_created) == 1 and second.alerts_extended == first.alerts_created
    alert = Alert.objects.get()
    assert alert.sightings.count() == 2 and alert.sightings_count == 2
    assert AuditEvent.objects.filter(action="alert.raise").count() == 1


@pytest.mark.django_db
def test_a_dismissed_alert_stays_as_judged_and_a_new_appearance_raises_a_new_alert(
    listed, users_by_role, settings
) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 #7: a sighting within the cooldown of a dismissal once extended the closed alert
    (a better crop even replaced the face the officer had dismissed) and raised nothing."""
    from backend.alerts.services import alert_adjudicate

    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    [first_id] = process(listed["camera"], listed["probe"]).alerts_created
    dismissed = alert_adjudicate(
        alert=Alert.objects.get(pk=first_id), action="dismiss", actor=users_by_role[Role.OFFICER], reason="not him"
    )
    crop_before = bytes(Alert.objects.get(pk=first_id).probe_jpeg)
    again = process(listed["camera"], listed["enrolled"])  # the same person, a better view, seconds later
    assert len(again.alerts_created) == 1 and again.alerts_extended == []
    first = Alert.objects.get(pk=first_id)
    assert first.status == "dismissed" and first.sightings_count == 1 and bytes(first.probe_jpeg) == crop_before
    assert first.best_score == dismissed.best_score
    raised = AuditEvent.objects.get(action="alert.raise", object_id=str(again.alerts_created[0]))
    assert raised.summary["follows_closed_alert"] == {"id": first_id, "status": "dismissed"}
    assert not AuditEvent.objects.filter(action="alert.probe_replace").exists()


@pytest.mark.django_db
def test_a_better_crop_replaces_the_probe_only_before_anyone_judged_it_and_is_audited(
    listed, users_by_role, settings
) -> None:  # type: ignore[no-untyped-def]
    from backend.alerts.services import alert_adjudicate

    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    [alert_id] = process(listed["camera"], listed["probe"]).alerts_created
    before = Alert.objects.get(pk=alert_id)
    assert process(listed["camera"], listed["enrolled"]).alerts_extended == [alert_id]
    after = Alert.objects.get(pk=alert_id)
    assert after.best_score > before.best_score and bytes(after.probe_jpeg) != bytes(before.probe_jpeg)
    [replaced] = AuditEvent.objects.filter(action="alert.probe_replace", object_id=str(alert_id))
    assert replaced.summary["score"] == {"before": round(before.best_score, 4), "after": round(after.best_score, 4)}
    assert replaced.summary["status"] == "new" and len(replaced.summary["crop_sha256"]) == 64

    # At a second camera an officer confirms on the first crop: sightings still count, the crop stays.
    camera = listed["twin"]
    [judged_id] = process(camera, listed["probe"]).alerts_created
    judged = alert_adjudicate(
        alert=Alert.objects.get(pk=judged_id), action="confirm", actor=users_by_role[Role.OFFICER]
    )
    crop = bytes(Alert.objects.get(pk=judged_id).probe_jpeg)
    assert process(camera, listed["enrolled"]).alerts_extended == [judged_id]
    pending = Alert.objects.get(pk=judged_id)
    assert pending.sightings_count == 2 and pending.best_score == judged.best_score
    assert bytes(pending.probe_jpeg) == crop
    assert AuditEvent.objects.filter(action="alert.probe_replace").count() == 1


@pytest.mark.django_db
def test_a_redelivered_frame_adds_nothing(listed, settings) -> None:  # type: ignore[no-untyped-def]
    """A worker that dies after committing but before acknowledging: the frame comes again."""
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    camera = listed["camera"]
    frame_id, captured_at = frame_put(camera, listed["probe"])
    first = pipeline.frame_process(frame_id=frame_id, camera_id=camera.pk, captured_at=captured_at, max_age_s=10)
    live_redis().set(frame_key(frame_id), listed["probe"], ex=30)  # as if still there on redelivery
    again = pipeline.frame_process(frame_id=frame_id, camera_id=camera.pk, captured_at=captured_at, max_age_s=10)
    assert len(first.alerts_created) == 1 and again.alerts_created == [] and again.alerts_extended == []
    assert Alert.objects.count() == 1 and Sighting.objects.count() == 1
    # After its TTL the frame is gone: a late redelivery is counted as lost, never processed.
    late = pipeline.frame_process(frame_id=frame_id, camera_id=camera.pk, captured_at=captured_at, max_age_s=10)
    assert late.status == "expired"


@pytest.mark.django_db
def test_pooling_waits_for_a_second_frame_when_one_is_not_clear_enough(listed, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.2  # no single frame can be clear enough
    settings.TRACK_POOL_MIN_FRAMES = 2
    first = process(listed["camera"], listed["probe"])
    assert first.hits == 1 and first.alerts_created == [] and not Alert.objects.exists()
    second = process(listed["camera"], listed["probe"])
    assert len(second.alerts_created) == 1
    alert = Alert.objects.get()
    assert alert.sightings.count() == 2  # both frames of the track are the alert's evidence
    assert AuditEvent.objects.get(action="alert.raise").summary["frames_pooled"] == 2


@pytest.mark.django_db
def test_a_track_broken_by_a_long_gap_starts_over(listed, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.2
    settings.TRACK_GAP_S = 1.0
    now = time.time()
    assert process(listed["camera"], listed["probe"], captured_at=now - 5).alerts_created == []
    assert process(listed["camera"], listed["probe"], captured_at=now).alerts_created == []


@pytest.mark.django_db
def test_stale_and_expired_frames_are_dropped_and_counted(listed) -> None:  # type: ignore[no-untyped-def]
    from backend.core import metrics

    stale_before = metrics.FRAMES_DROPPED.labels("stale")._value.get()
    assert process(listed["camera"], listed["probe"], captured_at=time.time() - 60).status == "stale"
    assert metrics.FRAMES_DROPPED.labels("stale")._value.get() == stale_before + 1
    outcome = pipeline.frame_process(
        frame_id="no-such-frame", camera_id=listed["camera"].pk, captured_at=time.time(), max_age_s=10
    )
    assert outcome.status == "expired" and not Alert.objects.exists()


@pytest.mark.django_db
def test_triton_away_degrades_the_camera_and_it_recovers_without_restart(listed, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    camera = listed["camera"]
    live_redis().delete(f"camera-fault:{camera.pk}")
    dead = InferenceClient("127.0.0.1:9", timeout_s=0.5, retries=0, backoff_s=0.01)  # nothing listens there
    real = pipeline.get_client
    monkeypatch.setattr(pipeline, "get_client", lambda: dead)
    assert process(camera, listed["probe"]).status == "triton_error"
    camera.refresh_from_db()
    assert camera.health == Camera.Health.DEGRADED and "unavailable" in camera.last_error
    assert not Alert.objects.exists()
    monkeypatch.setattr(pipeline, "get_client", real)
    assert len(process(camera, listed["probe"]).alerts_created) == 1
    camera.refresh_from_db()
    assert camera.health == Camera.Health.ONLINE


@pytest.mark.django_db
def test_garbage_from_a_camera_is_dropped_and_the_camera_marked(listed) -> None:  # type: ignore[no-untyped-def]
    camera = listed["camera"]
    live_redis().delete(f"camera-fault:{camera.pk}")
    outcome = process(camera, b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50)
    assert outcome.status == "triton_error"  # dropped before any search
    camera.refresh_from_db()
    assert camera.health == Camera.Health.DEGRADED and "not a valid image" in camera.last_error
    live_redis().delete(f"camera-fault:{camera.pk}")


# --- end to end: HTTP push -> Celery worker -> Triton -> pgvector -> alert -> WebSocket ------------
async def _listen(url: str, cookie: str, want: int, timeout: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = {"Cookie": cookie, "Origin": url.split("/ws/")[0].replace("ws://", "http://")}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as socket:
        hello = await socket.receive_json(timeout=10)
        assert hello["type"] == "hello"
        deadline = time.monotonic() + timeout
        while len(events) < want and time.monotonic() < deadline:
            try:
                message = await socket.receive(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if message.type == aiohttp.WSMsgType.TEXT:
                event = json.loads(message.data)
                if event["type"].startswith("alert."):
                    events.append(event)
    return events


def _in_background(coroutine: Any) -> Any:
    """Run the listener on its own loop in a thread while the test pushes frames."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    return pool.submit(asyncio.run, coroutine)


def _session_cookie(user: Any) -> str:
    client = Client()
    login_verified(client, user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _push(web_server: str, camera: Camera, key: str, jpeg: bytes) -> requests.Response:
    return requests.post(
        f"{web_server}/api/v1/cameras/{camera.pk}/frames",
        data=jpeg,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg", "X-Captured-At": str(time.time())},
        timeout=10,
    )


@pytest.mark.django_db(transaction=True)  # the worker and the web server must see committed rows
def test_pushed_frame_alerts_an_officer_over_the_websocket(  # type: ignore[no-untyped-def]
    listed, celery_worker, web_server, users_by_role, make_user
) -> None:
    camera, officer = listed["camera"], users_by_role[Role.OFFICER]
    key = camera_push_token_rotate(camera=camera, actor=users_by_role[Role.ADMIN])
    ws_url = web_server.replace("http://", "ws://") + "/ws/events/"
    other_zone_officer = make_user(Role.OFFICER, username="south-officer", zone_codes=("south",))
    mine = _in_background(_listen(ws_url, _session_cookie(officer), want=1, timeout=EVENT_TIMEOUT_S))
    theirs = _in_background(_listen(ws_url, _session_cookie(other_zone_officer), want=1, timeout=8))
    time.sleep(1.0)  # both sockets joined their groups
    # The person stays in view: a frame a second until pooling says alert (one clear frame may do).
    for _ in range(4):
        response = _push(web_server, camera, key, listed["probe"])
        assert response.status_code == 202, response.content
        time.sleep(1.2)
        if mine.done():
            break
    events = mine.result(timeout=EVENT_TIMEOUT_S + 15)
    assert events, "no alert event reached the officer of the camera's zone"
    alert = events[0]["alert"]
    assert events[0]["type"] == "alert.created"
    assert alert["subject_id"] == listed["subject"].pk and alert["subject_name"] == "Listed Person"
    assert alert["camera_id"] == camera.pk and alert["operation_id"] == listed["operation"].pk
    assert alert["priority"] == 1 and alert["score"] >= alert["threshold"]
    assert "probe_jpeg" not in alert and not any(isinstance(v, bytes) for v in alert.values())
    assert theirs.result(timeout=30) == []  # an officer of another zone hears nothing of it
    assert Alert.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_push_refusals_say_what_went_wrong(listed, web_server, users_by_role) -> None:  # type: ignore[no-untyped-def]
    camera, uncovered = listed["camera"], listed["uncovered"]
    admin = users_by_role[Role.ADMIN]
    key = camera_push_token_rotate(camera=camera, actor=admin)
    other_key = camera_push_token_rotate(camera=uncovered, actor=admin)
    wrong = _push(web_server, camera, "not-the-token", listed["probe"])
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_push_token"
    assert AuditEvent.objects.filter(action="camera.push_refused", object_id=str(camera.pk)).exists()
    assert _push(web_server, camera, other_key, listed["probe"]).status_code == 401  # another camera's token
    not_jpeg = _push(web_server, camera, key, b"GIF89a" + b"\x00" * 100)
    assert not_jpeg.status_code == 415 and not_jpeg.json()["code"] == "not_jpeg"
    outside = _push(web_server, uncovered, other_key, listed["probe"])
    assert outside.status_code == 409 and outside.json()["code"] == "no_active_operation"
    huge = _push(web_server, camera, key, b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
    assert huge.status_code == 413
    first = _push(web_server, camera, key, listed["probe"])
    again = _push(web_server, camera, key, listed["probe"])  # faster than the camera's 1 fps
    assert first.status_code == 202
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert not Alert.objects.filter(camera=uncovered).exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_survives_a_database_restart(listed, celery_worker, users_by_role, settings) -> None:  # type: ignore[no-untyped-def]
    """Every database connection of the worker is cut (as a PostgreSQL restart does); the next frame
    is still processed, with no restart of the worker."""
    from backend.recognition.tasks import recognise_frame

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    camera = listed["camera"]
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while time.monotonic() < deadline and not Alert.objects.exists():
        frame_id, captured_at = frame_put(camera, listed["probe"])
        recognise_frame.apply_async(
            kwargs={"frame_id": frame_id, "camera_id": camera.pk, "captured_at": captured_at},
            queue=settings.RECOGNITION_QUEUE,
        )
        time.sleep(2)
    assert Alert.objects.filter(camera=camera, subject=listed["subject"]).count() == 1


# --- live events only after commit; a killed worker never duplicates an alert ----------------------
def _group_receive(group: str, action: Any, timeout: float = 2.0) -> list[dict[str, Any]]:
    """Messages a fresh channel in `group` receives while `action` runs (the real Redis layer)."""
    from channels.layers import get_channel_layer

    async def scenario() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await asyncio.get_running_loop().run_in_executor(None, action)
            received = []
            while True:
                try:
                    received.append(await asyncio.wait_for(layer.receive(channel), timeout))
                except TimeoutError:
                    return received
        finally:
            await layer.group_discard(group, channel)

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


@pytest.mark.django_db(transaction=True)
def test_alert_events_are_sent_after_commit_and_never_for_a_rollback(listed, settings) -> None:  # type: ignore[no-untyped-def]
    from django.db import transaction

    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    camera = listed["camera"]

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert process(camera, listed["probe"]).alerts_created
            raise RuntimeError("the transaction fails after the alert was written")

    assert _group_receive("events.city", rolled_back) == []
    assert not Alert.objects.exists()
    committed = _group_receive("events.city", lambda: process(camera, listed["probe"]))
    assert [m["event"]["type"] for m in committed] == ["alert.created"]
    assert committed[0]["event"]["alert"]["id"] == Alert.objects.get().pk


def test_frame_delivery_is_configured_for_redelivery_once_or_loss(settings) -> None:  # type: ignore[no-untyped-def]
    """A frame task is acknowledged only when done and put back when its worker dies; Redis
    re-delivers an unacknowledged message only after the visibility timeout, by which time a frame
    is long gone from Redis and the task counts it lost (test_a_redelivered_frame_adds_nothing)."""
    from backend.recognition.tasks import recognise_frame

    assert recognise_frame.acks_late and recognise_frame.reject_on_worker_lost
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.FRAME_TTL_S
    assert settings.CELERY_TASK_ROUTES["recognition.recognise_frame"]["queue"] == settings.RECOGNITION_QUEUE


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_killed_mid_stream_makes_no_duplicate_alert(listed, stack_config, settings) -> None:  # type: ignore[no-untyped-def]
    """Frames of one person stream in; the worker's pool process is killed (SIGKILL) while it
    works. Its frame is put back and processed once, or counted lost; there is one alert, and no
    frame is recorded twice."""
    import os
    import signal
    import subprocess

    from backend.devstack import services as devstack_services
    from backend.recognition.tasks import recognise_frame
    from tests.conftest import _test_database_env

    worker = devstack_services.celery_worker_process(stack_config, _test_database_env(), name="kill-test")
    worker.start()
    try:
        worker.wait_ready()
        camera = listed["camera"]
        frames = []
        for index in range(8):
            frame_id, captured_at = frame_put(camera, listed["probe"], captured_at=time.time() + index * 0.01)
            frames.append(frame_id)
            recognise_frame.apply_async(
                kwargs={"frame_id": frame_id, "camera_id": camera.pk, "captured_at": captured_at},
                queue=settings.RECOGNITION_QUEUE,
            )
        time.sleep(0.6)  # the pool is busy with the first frames
        children = subprocess.run(
            ["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert children, "the worker has no pool processes to kill"
        os.kill(int(children[0]), signal.SIGKILL)
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while time.monotonic() < deadline and live_redis().exists(*[frame_key(f) for f in frames]):
            time.sleep(0.5)
        assert not live_redis().exists(*[frame_key(f) for f in frames]), "frames left unprocessed"
    finally:
        worker.stop()
    assert Alert.objects.filter(camera=listed["camera"]).count() == 1
    recorded = list(Sighting.objects.values_list("frame_id", flat=True))
    assert len(recorded) == len(set(recorded)) and set(recorded) <= set(frames)


@pytest.mark.django_db
def test_the_officer_of_the_camera_sees_what_the_alert_matched_through_the_alert(  # type: ignore[no-untyped-def]
    listed, users_by_role, make_user, zones, settings
) -> None:
    """A city-wide operation searches a north list at a south camera: the south officer handling the
    alert sees the enrolled photo through the alert (audited with a purpose), not through the list."""
    from rest_framework.test import APIClient

    settings.TRACK_SINGLE_FRAME_MARGIN = 0.0
    operation_make(  # a city-wide operation, authorised with both zones' cameras
        requested_by=users_by_role[Role.OFFICER],
        authorised_by=users_by_role[Role.COMMISSIONER],
        watchlists=[listed["watchlist"]],
        zones=[zones["north"], zones["south"]],
    )
    outcome = process(listed["uncovered"], listed["probe"])  # the south camera, now covered
    alert = Alert.objects.get(pk=outcome.alerts_created[0])
    south_officer = make_user(Role.OFFICER, username="south-officer", zone_codes=("south",))
    client = APIClient()
    login_verified(client, south_officer)
    detail = client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert detail["matched_photo_url"] == f"/api/v1/alerts/{alert.pk}/enrolled/"
    assert client.post(detail["matched_photo_url"]).status_code == 400  # no purpose given
    shown = client.post(detail["matched_photo_url"], {"purpose": "Checking the alert at the south gate"}, format="json")
    assert shown.status_code == 200 and shown.content[:2] == b"\xff\xd8"
    assert AuditEvent.objects.filter(action="biometric.photo_view", actor_id=south_officer.pk).count() == 1
    direct = client.post(f"/api/v1/photos/{alert.matched_photo_id}/image/", {"purpose": "direct"}, format="json")
    assert direct.status_code == 404
