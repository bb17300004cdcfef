"""The ingest worker against real sources and the real stack: an RTSP camera served by GStreamer's
RTSP server (scripts/rtsp_server.py), HTTP snapshot cameras on a local http.server, a dataset
video replayed from file; frames go through frame_submit into the test Redis / broker and camera
health lands in the test PostgreSQL. `manage.py ingest` runs as a real process once."""

from __future__ import annotations

import select
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from backend.benchmarks.decode import Clip, clip_make
from backend.cameras.models import Camera
from backend.core.live_state import live_redis
from backend.devstack import services as devstack_services
from backend.recognition.ingest import CameraRunner, IngestWorker
from backend.recognition.sources import StreamSource
from tests.conftest import _test_database_env, free_port
from tests.factories import camera_make, operation_make, watchlist_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-gi (a virtualenv does not)
SECRET = "s3cr3t-Pa55"
RTSP_CLIP = "opencv4nodejs/data/people.mp4"  # H.264, 800x450, 24 fps


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def deployment(users_by_role, zones) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An active operation over the north zone, authorised (`authorise()`) once a test has made its
    cameras: its enabled cameras are what ingest reads (coverage is fixed at authorisation)."""
    from backend.accounts.roles import Role

    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)

    def authorise() -> Any:
        return operation_make(
            requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
        )

    return {"zone": zones["north"], "other_zone": zones["south"], "authorise": authorise}


@pytest.fixture(autouse=True)
def empty_queue() -> Iterator[None]:
    """No consumer runs in these tests: keep the recognition queue below the shedding limit, and
    forget processing faults an earlier test left on reused camera ids."""

    def clean() -> None:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            broker.delete(settings.RECOGNITION_QUEUE)
        finally:
            broker.close()
        store = live_redis()
        for key in store.scan_iter("camera-fault:*"):
            store.delete(key)

    clean()
    yield
    clean()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., IngestWorker]]:
    """Runs IngestWorker.run() in a thread with short intervals; stops and joins it afterwards."""
    started: list[tuple[IngestWorker, threading.Thread]] = []

    def start(shard_index: int = 0, shard_count: int = 1) -> IngestWorker:
        worker = IngestWorker(shard_index, shard_count, reload_interval_s=0.3, health_interval_s=1.0, tick_s=0.1)
        thread = threading.Thread(target=worker.run, name="test-ingest-worker", daemon=True)
        thread.start()
        started.append((worker, thread))
        assert worker.loaded.wait(10), "the worker did not load its cameras"
        return worker

    yield start
    for worker, _thread in started:
        worker.stop()
    for worker, thread in started:
        thread.join(timeout=15)
        assert not thread.is_alive(), "the worker did not stop"
        assert not any(runner.is_alive() for runner in worker.runners.values())


def wait_for(predicate: Callable[[], Any], *, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def fresh(camera: Camera) -> Camera:
    return Camera.objects.get(pk=camera.pk)


def health_is(camera: Camera, health: str) -> Callable[[], Camera | None]:
    def check() -> Camera | None:
        current = fresh(camera)
        return current if current.health == health else None

    return check


def accepted_at_least(runner: CameraRunner, count: int) -> Callable[[], bool]:
    return lambda: runner.stats.accepted >= count


# --- RTSP ------------------------------------------------------------------------------------------
def gst_missing() -> str | None:
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "assert all(Gst.ElementFactory.find(n) for n in ('qtdemux', 'h264parse', 'rtph264pay'))"
    )
    try:
        result = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return f"{SYSTEM_PYTHON} is missing"
    return None if result.returncode == 0 else "GStreamer's RTSP server is missing"


@pytest.fixture
def rtsp_serve(tmp_path: Path) -> Iterator[Callable[[Path], str]]:
    """Starts real RTSP cameras: scripts/rtsp_server.py looping a video file. Gives their URLs."""
    missing = gst_missing()
    if missing:
        pytest.skip(
            f"{missing}: as root, apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 "
            "gstreamer1.0-plugins-{base,good,bad,ugly} gstreamer1.0-libav (scripts/setup.sh does)"
        )
    servers: list[subprocess.Popen[str]] = []

    def serve(video: Path) -> str:
        port = free_port()
        log_path = tmp_path / f"rtsp-server-{port}.log"
        with open(log_path, "wb") as log:
            argv = [SYSTEM_PYTHON, str(ROOT / "scripts" / "rtsp_server.py"), "--port", str(port), "--path", "/cam"]
            server = subprocess.Popen([*argv, "--file", str(video)], stdout=subprocess.PIPE, stderr=log, text=True)
        servers.append(server)
        assert server.stdout is not None
        readable, _, _ = select.select([server.stdout], [], [], 20)
        line = server.stdout.readline() if readable else ""
        assert "ready" in line, f"RTSP server did not start: {log_path.read_text()[-2000:]}"
        return f"rtsp://127.0.0.1:{port}/cam"

    yield serve
    for server in servers:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@pytest.fixture
def rtsp_server(rtsp_serve: Callable[[Path], str], datasets_dir: Path) -> str:
    """A real RTSP camera looping a dataset clip (a keyframe every 10 s). Yields its URL."""
    return rtsp_serve(datasets_dir / RTSP_CLIP)


def test_rtsp_camera_frames_are_accepted_and_the_camera_is_online(rtsp_server, deployment, start_worker) -> None:  # type: ignore[no-untyped-def]
    camera = camera_make(zone=deployment["zone"], stream_kind="rtsp", stream_url=rtsp_server, sample_fps=2.0)
    wrong_path = camera_make(
        zone=deployment["zone"], stream_kind="rtsp", stream_url=rtsp_server.replace("/cam", "/nothing-here")
    )
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    worker = start_worker()
    online = wait_for(health_is(camera, Camera.Health.ONLINE), what="the RTSP camera to be online")
    runner = worker.runners[camera.pk]
    wait_for(lambda: runner.stats.accepted >= 3, what="three frames accepted")
    # (accepted = stored in Redis and queued for recognition by frame_submit; a session's Celery
    # worker may already have processed and deleted them, so Redis is not counted here)
    # pacing does not lose frames to frame_submit's own per-camera sampling (one slow Redis round
    # trip on a loaded machine may)
    assert sum(runner.stats.dropped.values()) <= 1
    assert online.last_frame_at is not None
    measured = wait_for(lambda: fresh(camera).achieved_fps, what="an achieved fps")
    # Asked for 2 fps: the measured rate is of that order, never above it. (0.997 was seen once on a
    # machine running three stacks on two cores: the lower bound allows for a starved reader.)
    assert 0.8 <= measured <= 2.2
    assert worker.runners[camera.pk].is_alive()
    # the server is there but has no such stream: a clear error too
    refused = wait_for(health_is(wrong_path, Camera.Health.OFFLINE), what="the wrong path to be offline")
    assert refused.last_error == "Cannot open the RTSP stream (the server sent no playable video)."


def test_rtsp_camera_with_a_keyframe_a_second_is_read_from_keyframes_alone(rtsp_serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A camera whose keyframe interval fits its sample interval: only keyframes are decoded (the
    other packets are demuxed and dropped), and a sample still comes about once a second, fresh."""
    clip = Clip(tmp_path / "gop1.mp4", 640, 360, gop_s=1, seconds=6)
    clip_make(clip)
    source = StreamSource(rtsp_serve(clip.path), sample_fps=1.0)
    source.open()
    try:
        frames = []
        deadline = time.monotonic() + 20
        while len(frames) < 5 and time.monotonic() < deadline:
            frame = source.read()
            if frame is not None:
                frames.append(frame)
                assert time.time() - frame.captured_at < 1.5  # newest keyframe, not a queue
            time.sleep(0.9)
    finally:
        source.close()
    assert len(frames) == 5 and all(f.image.shape == (360, 640, 3) for f in frames)
    assert source.decoder is not None and source.decoder.keyframes_only
    assert source.decoder.keyframe_interval_s == pytest.approx(1.0, abs=0.05)
    stats = source.decoder.stats
    # after the first keyframe interval (decoded whole, to measure it) about 1 in 25 is decoded
    assert stats.undecoded > 2 * stats.decoded, stats


def test_unreachable_rtsp_camera_is_offline_with_a_clear_error_and_the_worker_keeps_running(  # type: ignore[no-untyped-def]
    deployment, start_worker, datasets_dir
) -> None:
    port = free_port()  # nothing listens there
    dead = camera_make(
        zone=deployment["zone"], stream_kind="rtsp", stream_url=f"rtsp://admin:{SECRET}@127.0.0.1:{port}/stream1"
    )
    alive = camera_make(zone=deployment["zone"], stream_kind="file", stream_url=RTSP_CLIP, sample_fps=2.0)
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    worker = start_worker()
    offline = wait_for(health_is(dead, Camera.Health.OFFLINE), what="the unreachable camera to be offline")
    assert offline.last_error == "Cannot open the RTSP stream (connection refused)."
    for leak in (SECRET, "admin", str(port), "rtsp://"):
        assert leak not in offline.last_error
    # it keeps trying, with back-off (about 1 s, then about 2 s), not in a busy loop
    runner = worker.runners[dead.pk]
    wait_for(lambda: runner.stats.opens >= 2, what="a reconnection attempt", timeout=5)
    assert runner.stats.opens <= 3
    # and the other camera of the same worker is unaffected
    wait_for(health_is(alive, Camera.Health.ONLINE), what="the file camera to be online")
    assert runner.is_alive() and worker.runners[alive.pk].is_alive()


# --- HTTP snapshots -------------------------------------------------------------------------------
@pytest.fixture
def snapshot_server(datasets_dir: Path) -> Iterator[tuple[str, Counter[str]]]:
    """/snap.jpg: a dataset JPEG; /garbage: an HTML page; anything else: 404. Counts requests."""
    jpeg = (datasets_dir / "opencv4nodejs" / "data" / "got.jpg").read_bytes()
    hits: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            if self.path == "/snap.jpg":
                self._send(200, "image/jpeg", jpeg)
            elif self.path == "/garbage":
                self._send(200, "text/html", b"<html><body>Camera login</body></html>")
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://viewer:{SECRET}@127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_snapshot_cameras_good_garbage_and_missing(snapshot_server, deployment, start_worker) -> None:  # type: ignore[no-untyped-def]
    base, hits = snapshot_server
    good = camera_make(zone=deployment["zone"], stream_kind="snapshot", stream_url=f"{base}/snap.jpg", sample_fps=2.0)
    garbage = camera_make(zone=deployment["zone"], stream_kind="snapshot", stream_url=f"{base}/garbage")
    missing = camera_make(zone=deployment["zone"], stream_kind="snapshot", stream_url=f"{base}/nope.jpg")
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    worker = start_worker()
    wait_for(health_is(good, Camera.Health.ONLINE), what="the snapshot camera to be online")
    wait_for(lambda: worker.runners[good.pk].stats.accepted >= 2, what="two snapshots accepted")
    degraded = wait_for(health_is(garbage, Camera.Health.DEGRADED), what="the garbage camera to be degraded")
    assert degraded.last_error == "The snapshot URL did not return an image."
    assert worker.runners[garbage.pk].stats.accepted == 0  # nothing that is not an image is queued
    offline = wait_for(health_is(missing, Camera.Health.OFFLINE), what="the 404 camera to be offline")
    assert offline.last_error == "The snapshot URL answered HTTP 404."
    for camera in (degraded, offline):
        assert SECRET not in camera.last_error and "127.0.0.1" not in camera.last_error

    # a camera that leaves the set (disabled) stops being read
    Camera.objects.filter(pk=good.pk).update(enabled=False)
    runner = worker.runners[good.pk]
    wait_for(lambda: good.pk not in worker.runners and not runner.is_alive(), what="the disabled camera to stop")
    polled = hits["/snap.jpg"]
    time.sleep(1.0)
    assert hits["/snap.jpg"] == polled


# --- file replay and shards ------------------------------------------------------------------------
def test_file_and_composed_demo_cameras(deployment, start_worker, datasets_dir) -> None:  # type: ignore[no-untyped-def]
    from backend.demo.compose import composed_url

    replay = camera_make(zone=deployment["zone"], stream_kind="file", stream_url=RTSP_CLIP, sample_fps=4.0)
    composed = camera_make(
        zone=deployment["zone"], stream_kind="composed", stream_url=composed_url("ingest-test", seed=1), sample_fps=2.0
    )
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    worker = start_worker()
    for camera, frames in ((replay, 4), (composed, 2)):
        wait_for(health_is(camera, Camera.Health.ONLINE), what=f"the {camera.stream_kind} camera to be online")
        runner = worker.runners[camera.pk]
        wait_for(accepted_at_least(runner, frames), what=f"{frames} frames accepted")
        assert sum(runner.stats.dropped.values()) <= 1 and runner.stats.decode_errors == 0
        assert fresh(camera).last_error == ""


def test_shards_split_the_cameras_under_operation(deployment) -> None:  # type: ignore[no-untyped-def]
    zone, other = deployment["zone"], deployment["other_zone"]
    read = [camera_make(zone=zone, stream_kind="rtsp", stream_url=f"rtsp://10.0.0.{n}/s") for n in range(5)]
    read.append(camera_make(zone=zone, stream_kind="composed", stream_url="composed:test?seed=1"))
    camera_make(zone=zone, stream_kind="rtsp", stream_url="rtsp://10.0.1.1/s", enabled=False)
    camera_make(zone=zone, stream_kind="push")
    camera_make(zone=zone, stream_kind="none")
    camera_make(zone=zone, stream_kind="rtsp", stream_url="")
    camera_make(zone=other, stream_kind="rtsp", stream_url="rtsp://10.0.2.1/s")  # no operation there
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    shards = [IngestWorker(index, 3).cameras_owned() for index in range(3)]
    owned = [set(shard) for shard in shards]
    assert set().union(*owned) == {camera.pk for camera in read}
    assert sum(len(ids) for ids in owned) == len(read)  # disjoint
    for index, ids in enumerate(owned):
        assert all(pk % 3 == index for pk in ids)
    spec = shards[read[0].pk % 3][read[0].pk]
    assert (spec.stream_kind, spec.stream_url, spec.sample_fps) == ("rtsp", "rtsp://10.0.0.0/s", 1.0)


# --- the command ---------------------------------------------------------------------------------
def test_manage_py_ingest_reads_cameras_and_stops_on_sigterm(snapshot_server, deployment, stack_config) -> None:  # type: ignore[no-untyped-def]
    base, _ = snapshot_server
    camera = camera_make(zone=deployment["zone"], stream_kind="snapshot", stream_url=f"{base}/snap.jpg")
    unreachable = camera_make(
        zone=deployment["zone"], stream_kind="rtsp", stream_url=f"rtsp://127.0.0.1:{free_port()}/"
    )
    deployment["authorise"]()  # authorised now: these cameras are what it covers
    process = devstack_services.ingest_process(stack_config, _test_database_env(), shard="0/1")
    process.start()
    try:
        process.wait_ready()
        wait_for(health_is(camera, Camera.Health.ONLINE), what="the command's camera to be online")
        wait_for(health_is(unreachable, Camera.Health.OFFLINE), what="the unreachable camera to be offline")
    finally:
        started = time.monotonic()
        process.stop()  # SIGTERM to the process group
    assert process.process is not None and process.process.returncode == 0
    assert time.monotonic() - started < 10
    log = process.log_path.read_text(errors="replace")
    assert "ingest worker shard 0/1 stopped" in log
    assert SECRET not in log
