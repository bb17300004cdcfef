"""The ingest worker's pure parts: back-off, pacing against frame_submit's per-camera slot, health
classification, JPEG encoding, file replay, and error texts that never carry the stream URL."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
import urllib3

from backend.cameras.models import Camera
from backend.recognition.ingest import (
    Backoff,
    CameraRunner,
    CameraSpec,
    HealthReport,
    Pacer,
    health_classify,
    jpeg_encode,
    offline_after_s,
    shard_parse,
)
from backend.recognition.intake import SAMPLING_JITTER_ALLOWANCE, FrameSubmission
from backend.recognition.sources import (
    FileSource,
    Frame,
    FrameDecodeError,
    SnapshotSource,
    SourceError,
    StreamSource,
    file_path_resolve,
    network_reason,
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


# --- shards, back-off, pacing ------------------------------------------------------------------
def test_shard_parse() -> None:
    assert shard_parse("0/1") == (0, 1)
    assert shard_parse("3/4") == (3, 4)
    for bad in ("", "1", "1/1", "-1/2", "0/0", "a/b", "0/1/2"):
        with pytest.raises(ValueError):
            shard_parse(bad)


def test_backoff_doubles_from_one_second_to_thirty() -> None:
    backoff = Backoff(rng=lambda: 0.0)  # no jitter drawn: the ceiling itself
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_jitter_stays_within_bounds_and_spreads() -> None:
    backoff = Backoff()
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    delays = [backoff.next_delay() for _ in ceilings]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert 0.7 * ceiling <= delay <= ceiling
    many = set()
    for _ in range(20):
        backoff.reset()
        many.add(round(backoff.next_delay(), 6))
    assert len(many) > 1  # reconnecting cameras do not all knock at the same moment


def simulate_offers(fps: float, *, read_s: float, count: int) -> list[float]:
    """The runner's schedule on a virtual clock: wait for read_delay, read (read_s), wait for
    submit_delay, offer."""
    pacer, now = Pacer(fps), 1000.0
    offers: list[float] = []
    while len(offers) < count:
        now += pacer.read_delay(now)
        started = now
        now += read_s
        ready = now
        now += pacer.submit_delay(now)
        offers.append(now)
        pacer.offered(now, lead_s=ready - started)
    return offers


@pytest.mark.parametrize("fps", [0.2, 1.0, 2.0, 5.0, 25.0])
@pytest.mark.parametrize("read_s", [0.0, 0.01, 0.03])
def test_offers_never_beat_frame_submits_slot_and_keep_the_rate(fps: float, read_s: float) -> None:
    offers = simulate_offers(fps, read_s=read_s, count=50)
    gaps = np.diff(offers)
    assert gaps.min() >= 1 / fps - 1e-9  # never faster than the camera's fps
    slot_s = max(1, int(1000 * SAMPLING_JITTER_ALLOWANCE / fps)) / 1000  # frame_submit's Redis slot
    assert gaps.min() >= slot_s + 0.002  # a margin for one slow Redis round trip
    achieved = (len(offers) - 1) / (offers[-1] - offers[0])
    if read_s < 1 / fps:
        assert achieved == pytest.approx(fps)  # reading time is absorbed by starting the read early


def test_pacer_reads_ahead_of_the_due_time_by_the_reading_time() -> None:
    pacer = Pacer(2.0)
    pacer.offered(100.0, lead_s=0.1)
    assert pacer.due == pytest.approx(100.5)
    assert pacer.read_delay(100.0) == pytest.approx(0.4)
    assert pacer.submit_delay(100.45) == pytest.approx(0.05)
    assert pacer.submit_delay(101.0) == 0.0
    pacer.offered(100.5, lead_s=5.0)  # a read slower than the interval: lead capped at it
    assert pacer.lead_s <= 0.5


# --- health ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("connected", "achieved", "silent", "decode_errors", "expected"),
    [
        (True, 2.0, 0.2, 0, Camera.Health.ONLINE),
        (True, 1.0, 0.2, 0, Camera.Health.ONLINE),  # exactly half the fps
        (True, 0.9, 0.2, 0, Camera.Health.DEGRADED),  # below half
        (True, 2.0, 0.2, 1, Camera.Health.DEGRADED),  # garbage among the frames
        (True, 0.0, 0.3, 3, Camera.Health.DEGRADED),  # only garbage, but the camera answers
        (True, 0.0, 5.0, 0, Camera.Health.OFFLINE),  # connected, but silent
        (False, 0.0, 0.0, 0, Camera.Health.OFFLINE),  # cannot connect
    ],
)
def test_health_classification(
    connected: bool, achieved: float, silent: float, decode_errors: int, expected: str
) -> None:
    health = health_classify(
        connected=connected,
        fps=2.0,
        achieved_fps=achieved,
        silent_s=silent,
        decode_errors=decode_errors,
        offline_after=offline_after_s(2.0, 5.0),
    )
    assert health == expected


def test_offline_after_three_intervals_but_at_least_a_health_window() -> None:
    assert offline_after_s(0.1, 5.0) == pytest.approx(30.0)
    assert offline_after_s(2.0, 5.0) == pytest.approx(5.0)


# --- encoding ----------------------------------------------------------------------------------
def decoded_shape(jpeg: bytes) -> tuple[int, ...]:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return tuple(image.shape)


def test_jpeg_encode_downscales_frames_wider_than_1920() -> None:
    assert decoded_shape(jpeg_encode(np.full((2160, 3840, 3), 128, np.uint8))) == (1080, 1920, 3)
    assert decoded_shape(jpeg_encode(np.full((450, 800, 3), 128, np.uint8))) == (450, 800, 3)


# --- errors never quote the URL ----------------------------------------------------------------
SECRET = "s3cr3t-Pa55"


def test_unreachable_rtsp_url_error_names_the_cause_not_the_url() -> None:
    port = closed_port()
    source = StreamSource(f"rtsp://admin:{SECRET}@127.0.0.1:{port}/cam")
    with pytest.raises(SourceError) as caught:
        source.open()
    assert caught.value.message == "Cannot open the RTSP stream (connection refused)."
    for leak in (SECRET, "admin", "127.0.0.1", str(port), "rtsp://"):
        assert leak not in caught.value.message


def test_unreachable_snapshot_url_error_names_the_cause_not_the_url() -> None:
    port = closed_port()
    source = SnapshotSource(f"http://admin:{SECRET}@127.0.0.1:{port}/snap.jpg")
    source.open()
    try:
        with pytest.raises(SourceError) as caught:
            source.read()
    finally:
        source.close()
    assert caught.value.message == "Cannot reach the snapshot URL (connection refused)."
    assert SECRET not in caught.value.message and str(port) not in caught.value.message


def test_network_reason_reads_the_exception_chain() -> None:
    def wrapped(cause: BaseException) -> requests.ConnectionError:
        try:
            try:
                raise cause
            except OSError as error:
                raise urllib3.exceptions.NewConnectionError(None, f"http://u:{SECRET}@h/ failed") from error  # type: ignore[arg-type]
        except urllib3.exceptions.NewConnectionError as error:
            retry = urllib3.exceptions.MaxRetryError(None, f"http://u:{SECRET}@h/", error)  # type: ignore[arg-type]
            return requests.ConnectionError(retry)

    assert network_reason(wrapped(ConnectionRefusedError(111, "refused"))) == "connection refused"
    assert network_reason(wrapped(socket.gaierror(-2, "Name or service not known"))) == "host name not found"
    assert network_reason(wrapped(TimeoutError())) == "timed out"
    assert network_reason(ValueError(f"rtsp://u:{SECRET}@h")) == "network error"


class FakeSource:
    kind = "rtsp"

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.closed = 0

    def open(self) -> None:
        if self.behaviour == "refuse":
            raise SourceError("Cannot open the RTSP stream (connection refused).")
        if self.behaviour == "bug":
            raise RuntimeError(f"unexpected failure reading rtsp://admin:{SECRET}@cam/")

    def read(self) -> Frame | None:
        time.sleep(0.005)
        if self.behaviour == "garbage":
            raise FrameDecodeError("The snapshot URL did not return an image.")
        return Frame(np.zeros((48, 64, 3), np.uint8), time.time())

    def close(self) -> None:
        self.closed += 1


def run_camera(behaviour: str, *, seconds: float, fps: float = 20.0) -> tuple[CameraRunner, list[HealthReport], list]:  # type: ignore[type-arg]
    reports: list[HealthReport] = []
    offers: list[dict] = []  # type: ignore[type-arg]
    sources: list[FakeSource] = []

    def factory(_kind: str, _url: str) -> FakeSource:
        sources.append(FakeSource(behaviour))
        return sources[-1]

    def submit(**kwargs: object) -> FrameSubmission:
        offers.append(kwargs)
        return FrameSubmission(True, "accepted", "id")

    runner = CameraRunner(
        CameraSpec(7, "rtsp", f"rtsp://admin:{SECRET}@cam/", fps),
        lambda _camera_id, report: reports.append(report),
        health_interval_s=0.2,
        source_factory=factory,  # type: ignore[arg-type]
        submit=submit,
    )
    runner.backoff = Backoff(initial_s=0.05, maximum_s=0.2)
    runner.start()
    time.sleep(seconds)
    runner.stop()
    runner.join(timeout=2)
    assert not runner.is_alive()
    assert all(source.closed == 1 for source in sources if behaviour in {"garbage", "ok"})
    return runner, reports, offers


def test_runner_offers_frames_at_the_camera_fps_and_reports_online() -> None:
    runner, reports, offers = run_camera("ok", seconds=1.0, fps=20.0)
    assert 15 <= len(offers) <= 21
    assert {offer["source"] for offer in offers} == {"rtsp"}
    assert all(offer["camera_id"] == 7 and offer["sample_fps"] == 20.0 for offer in offers)
    assert reports[0].health == Camera.Health.ONLINE  # at the first frame, not a window later
    periodic = [report for report in reports if report.achieved_fps is not None]
    assert periodic and all(report.health == Camera.Health.ONLINE for report in periodic)
    assert all(report.achieved_fps and report.achieved_fps >= 10 for report in periodic)
    assert runner.stats.accepted == len(offers)


def test_runner_reconnects_with_backoff_and_reports_offline_without_the_url() -> None:
    runner, reports, offers = run_camera("refuse", seconds=0.6)
    assert not offers
    assert 3 <= runner.stats.opens <= 8  # 0.05, 0.1, 0.2, 0.2 ... s apart, not a busy loop
    assert {report.health for report in reports} == {Camera.Health.OFFLINE}
    assert all(report.error == "Cannot open the RTSP stream (connection refused)." for report in reports)


def test_runner_survives_a_bug_and_keeps_the_url_out_of_the_report() -> None:
    runner, reports, _ = run_camera("bug", seconds=0.3)
    assert runner.stats.opens >= 2
    assert reports and all(report.health == Camera.Health.OFFLINE for report in reports)
    assert all(SECRET not in (report.error or "") and "rtsp://" not in (report.error or "") for report in reports)


def test_runner_reports_a_camera_sending_garbage_as_degraded() -> None:
    runner, reports, offers = run_camera("garbage", seconds=0.7, fps=10.0)
    assert not offers and runner.stats.decode_errors >= 3
    assert reports and {report.health for report in reports} == {Camera.Health.DEGRADED}
    assert all(report.error == "The snapshot URL did not return an image." for report in reports)


# --- file replay -------------------------------------------------------------------------------
def write_clip(path: Path, *, frames: int, fps: float) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), 20 * index + 10, np.uint8))  # frame number as grey level
    writer.release()


def frame_number(frame: Frame) -> int:
    return round((float(frame.image.mean()) - 10) / 20)


def test_file_source_replays_in_real_time_and_loops(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.avi", frames=10, fps=20.0)
    source = FileSource("clip.avi", datasets_dir=tmp_path)
    source.open()
    try:
        assert source.fps == pytest.approx(20.0)
        started = time.monotonic()
        numbers = []
        while time.monotonic() - started < 0.95:
            frame = source.read()
            if frame is not None:
                numbers.append(frame_number(frame))
    finally:
        source.close()
    # 0.95 s at 20 fps is about 19 frames: frames 0..9, then the clip again from 0
    assert 16 <= len(numbers) <= 20
    assert numbers[:10] == list(range(10))
    assert numbers[10:13] == [0, 1, 2]


def test_file_source_skips_frames_when_read_slower_than_the_file(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.avi", frames=10, fps=20.0)
    source = FileSource(str(tmp_path / "clip.avi"))  # absolute path
    source.open()
    try:
        first = source.read()
        time.sleep(0.2)  # four frames' worth
        second = source.read()
    finally:
        source.close()
    assert first is not None and second is not None
    assert frame_number(first) == 0 and frame_number(second) in (4, 5)
    assert source.skipped >= 3


def test_file_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^The video file does not exist\.$"):
        FileSource("missing.mp4", datasets_dir=tmp_path).open()
    (tmp_path / "not-a-video.mp4").write_bytes(b"garbage" * 100)
    with pytest.raises(SourceError, match=r"^Cannot open the video file"):
        FileSource("not-a-video.mp4", datasets_dir=tmp_path).open()


def test_file_paths_are_relative_to_the_datasets_folder(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATASETS_DIR = tmp_path
    assert file_path_resolve("a/b.mp4") == tmp_path / "a" / "b.mp4"
    assert file_path_resolve("/srv/x.mp4") == Path("/srv/x.mp4")
    assert file_path_resolve("file:///srv/x.mp4") == Path("/srv/x.mp4")
