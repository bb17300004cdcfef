"""The ingest worker: reads the cameras this shard owns and offers their frames to recognition.

One `IngestWorker` per process (`manage.py ingest --shard i/n`); it owns the cameras whose id
modulo n is i among the enabled cameras under an active operation whose stream kind it reads
(rtsp, snapshot, file, composed), and reloads that set every RELOAD_INTERVAL_S. Each camera gets
a thread (`CameraRunner`) that samples its source at the camera's fps, JPEG-encodes the frame and
calls `frame_submit` (which samples again per camera, sheds load and counts every drop). Failures
reconnect with exponential back-off and jitter.

Only the worker's own thread touches the database (camera set, health reports): camera threads
hand their health reports to it, the latest per camera wins. That keeps one database connection
per ingest process, however many cameras it reads."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np
from django.db import DatabaseError, close_old_connections, connection
from django.db.models.functions import Mod

from backend.cameras.health import camera_health_update
from backend.cameras.models import Camera
from backend.operations.selectors import cameras_under_operation

from .intake import FrameSubmission, frame_submit
from .sources import SOURCE_KINDS, FrameDecodeError, FrameSource, SourceError, source_for

logger = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 10.0
HEALTH_INTERVAL_S = 5.0
TICK_S = 0.5  # how often the worker's thread writes queued health reports
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
BACKOFF_JITTER = 0.3  # each delay is drawn from [(1 - jitter) * d, d]
JPEG_QUALITY = 85
MAX_FRAME_WIDTH = 1920
ONLINE_FPS_RATIO = 0.5  # frames flowing at half the camera's fps or better is online
OFFLINE_AFTER_INTERVALS = 3  # no frame for this many sample intervals (at least a health interval)
STOP_JOIN_S = 8.0


# --- small pure pieces (unit-tested) ---------------------------------------------------------
def shard_parse(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n) with 0 <= i < n."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError(f"a shard is 'index/count', e.g. 0/1 or 2/4 (got {text!r})") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard index must be 0..count-1 (got {text!r})")
    return index, count


class Backoff:
    """Exponential back-off with jitter: about 1, 2, 4, 8, 16, 30, 30 ... seconds."""

    def __init__(
        self,
        *,
        initial_s: float = BACKOFF_INITIAL_S,
        maximum_s: float = BACKOFF_MAX_S,
        jitter: float = BACKOFF_JITTER,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial_s, self.maximum_s, self.jitter, self._rng = initial_s, maximum_s, jitter, rng
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.initial_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return ceiling * (1.0 - self.jitter * self._rng())

    def reset(self) -> None:
        self.failures = 0


class Pacer:
    """When to offer the next frame so that a camera is sampled at `fps` and no faster.

    Offers are one interval apart (frame_submit's per-camera slot is a little shorter, so network
    jitter does not cost frames). Reading and encoding a frame takes time (`lead_s`, smoothed),
    so the read starts that much before the offer is due: the offered frame is fresh and the
    achieved rate does not fall short by the reading time."""

    def __init__(self, fps: float) -> None:
        self.interval_s = 1.0 / fps
        self.due = 0.0  # time.time() at which the next offer may be made
        self.lead_s = 0.0

    def read_delay(self, now: float) -> float:
        return max(0.0, self.due - self.lead_s - now)

    def submit_delay(self, now: float) -> float:
        return max(0.0, self.due - now)

    def offered(self, at: float, *, lead_s: float | None = None) -> None:
        """A frame was offered at `at` (or a cycle failed then); `lead_s`: what reading and
        encoding it took."""
        self.due = at + self.interval_s
        if lead_s is not None:
            smoothed = lead_s if self.lead_s == 0.0 else 0.7 * self.lead_s + 0.3 * lead_s
            self.lead_s = min(smoothed, self.interval_s)


def offline_after_s(fps: float, health_interval_s: float) -> float:
    return max(OFFLINE_AFTER_INTERVALS / fps, health_interval_s)


def health_classify(
    *, connected: bool, fps: float, achieved_fps: float, silent_s: float, decode_errors: int, offline_after: float
) -> str:
    """online: frames flow at >= half the camera's fps; degraded: they flow slower, or some of
    what came was not an image; offline: cannot connect, or the source gave nothing at all (no
    frame, no garbage either) for `offline_after` (`silent_s`: since it last gave anything)."""
    if not connected or silent_s >= offline_after:
        return Camera.Health.OFFLINE
    if decode_errors or achieved_fps < ONLINE_FPS_RATIO * fps:
        return Camera.Health.DEGRADED
    return Camera.Health.ONLINE


def jpeg_encode(image: np.ndarray, *, quality: int = JPEG_QUALITY, max_width: int = MAX_FRAME_WIDTH) -> bytes:
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FrameDecodeError("A frame could not be encoded as JPEG.")
    return encoded.tobytes()


# --- one camera -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraSpec:
    """What a camera thread reads; a change of any of it restarts the thread."""

    camera_id: int
    stream_kind: str
    stream_url: str
    sample_fps: float


@dataclass
class HealthReport:
    health: str
    frame_at: float | None = None
    achieved_fps: float | None = None
    error: str | None = None


@dataclass
class RunnerStats:
    """Counters of one camera thread (logs and tests)."""

    opens: int = 0
    failures: int = 0
    frames: int = 0
    accepted: int = 0
    decode_errors: int = 0
    submit_errors: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    last_error: str = ""


class CameraRunner(threading.Thread):
    def __init__(
        self,
        spec: CameraSpec,
        report: Callable[[int, HealthReport], None],
        *,
        health_interval_s: float = HEALTH_INTERVAL_S,
        source_factory: Callable[[str, str], FrameSource] | None = None,
        submit: Callable[..., FrameSubmission] = frame_submit,
    ) -> None:
        super().__init__(name=f"ingest-camera-{spec.camera_id}", daemon=True)
        self.spec = spec
        self._report = report
        self._health_interval_s = health_interval_s
        # Video sources decode only what the camera's sampling needs (decode.py).
        self._source_factory = source_factory or (lambda kind, url: source_for(kind, url, sample_fps=spec.sample_fps))
        self._submit = submit
        self._stopping = threading.Event()
        self.backoff = Backoff()
        self.stats = RunnerStats()
        self._offline_after = offline_after_s(spec.sample_fps, health_interval_s)
        self._window_reset(time.time())
        self._last_frame_at: float | None = None
        self._last_answer_at = 0.0  # a frame or garbage: the source is there
        self._session_start = time.time()

    def stop(self) -> None:
        self._stopping.set()

    # health window: what happened since the last report
    def _window_reset(self, now: float) -> None:
        self._window_start, self._window_frames, self._window_decode_errors = now, 0, 0
        self._window_error: str | None = None
        self._next_report = now + self._health_interval_s

    def _report_window(self, now: float, *, connected: bool) -> None:
        elapsed = max(now - self._window_start, 1e-3)
        achieved = self._window_frames / elapsed
        silent_s = now - max(self._last_answer_at, self._session_start)
        health = health_classify(
            connected=connected,
            fps=self.spec.sample_fps,
            achieved_fps=achieved,
            silent_s=silent_s,
            decode_errors=self._window_decode_errors,
            offline_after=self._offline_after,
        )
        error = self._window_error
        if health == Camera.Health.OFFLINE and error is None and connected:
            error = "No frame received from the camera."
        elif health == Camera.Health.DEGRADED and error is None:
            error = f"Frames arrive at {achieved:.2f} fps, below the camera's {self.spec.sample_fps:g} fps."
        self._report(
            self.spec.camera_id,
            HealthReport(health, frame_at=self._last_frame_at, achieved_fps=achieved, error=error),
        )
        self._window_reset(now)

    def _failed(self, message: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = message
        self._report(self.spec.camera_id, HealthReport(Camera.Health.OFFLINE, achieved_fps=0.0, error=message))

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._session()
            except Exception:  # a bug must not end the camera for good: report, back off, retry
                logger.exception("camera %s: ingest failed", self.spec.camera_id)
                self._failed("Ingest failed on this camera (internal error, see the ingest log).")
            if self._stopping.is_set():
                break
            delay = self.backoff.next_delay()
            logger.info("camera %s: reconnecting in %.1f s", self.spec.camera_id, delay)
            self._stopping.wait(delay)

    def _session(self) -> None:
        """Open the source and offer frames until it fails or the thread is stopped."""
        source = self._source_factory(self.spec.stream_kind, self.spec.stream_url)
        self.stats.opens += 1
        try:
            source.open()
        except SourceError as error:
            logger.warning("camera %s: %s", self.spec.camera_id, error.message)
            self._failed(error.message)
            return
        now = time.time()
        self._session_start, self._session_frames = now, 0
        self._window_reset(now)
        pacer = Pacer(self.spec.sample_fps)
        try:
            while not self._stopping.is_set():
                now = time.time()
                if now >= self._next_report:
                    self._report_window(now, connected=True)
                delay = pacer.read_delay(now)
                if delay > 0:
                    self._stopping.wait(min(delay, max(self._next_report - now, 0.01)))
                    continue
                self._cycle(source, pacer)
        except SourceError as error:
            logger.warning("camera %s: %s", self.spec.camera_id, error.message)
            self._failed(error.message)
        finally:
            source.close()

    def _cycle(self, source: FrameSource, pacer: Pacer) -> None:
        started = time.time()
        try:
            frame = source.read()
            if frame is None:
                return  # nothing new yet; the health window notices a silent camera
            jpeg = jpeg_encode(frame.image)
        except FrameDecodeError as error:
            self.stats.decode_errors += 1
            self.stats.last_error = error.message
            self._window_decode_errors += 1
            self._window_error = error.message
            self._last_answer_at = time.time()
            pacer.offered(self._last_answer_at)
            return
        ready = time.time()
        wait = pacer.submit_delay(ready)
        if wait > 0 and self._stopping.wait(wait):
            return
        offered_at = time.time()
        try:
            result = self._submit(
                camera_id=self.spec.camera_id,
                jpeg=jpeg,
                captured_at=frame.captured_at,
                sample_fps=self.spec.sample_fps,
                source=source.kind,
            )
        except Exception as error:  # Redis or the broker away: the camera is fine, recognition is not
            self.stats.submit_errors += 1
            self._window_decode_errors += 1
            self._window_error = "Cannot queue frames for recognition (Redis or the broker is unavailable)."
            logger.warning("camera %s: frame_submit failed: %s", self.spec.camera_id, type(error).__name__)
        else:
            if result.accepted:
                self.stats.accepted += 1
            else:
                self.stats.dropped[result.reason] = self.stats.dropped.get(result.reason, 0) + 1
        pacer.offered(offered_at, lead_s=ready - started)
        self.stats.frames += 1
        self._last_frame_at = self._last_answer_at = frame.captured_at
        self._session_frames += 1
        if self._session_frames > 1:
            self._window_frames += 1
            return
        # The first frame of a session: say so at once, and measure the rate from here on (the
        # time it took to connect is not a slow camera).
        self.backoff.reset()  # frames flow again: the next failure starts back-off afresh
        self._window_reset(offered_at)
        self._report(self.spec.camera_id, HealthReport(Camera.Health.ONLINE, frame_at=frame.captured_at))


# --- the worker --------------------------------------------------------------------------------
class IngestWorker:
    def __init__(
        self,
        shard_index: int = 0,
        shard_count: int = 1,
        *,
        reload_interval_s: float = RELOAD_INTERVAL_S,
        health_interval_s: float = HEALTH_INTERVAL_S,
        tick_s: float = TICK_S,
        runner_factory: Callable[..., CameraRunner] = CameraRunner,
    ) -> None:
        if shard_count < 1 or not 0 <= shard_index < shard_count:
            raise ValueError("shard index must be 0..count-1")
        self.shard_index, self.shard_count = shard_index, shard_count
        self.reload_interval_s, self.health_interval_s, self.tick_s = reload_interval_s, health_interval_s, tick_s
        self._runner_factory = runner_factory
        self._stop = threading.Event()
        self._runners: dict[int, CameraRunner] = {}
        self._retired: list[CameraRunner] = []
        self._reports: dict[int, HealthReport] = {}
        self._reports_lock = threading.Lock()
        self.loaded = threading.Event()  # set after the first camera set was loaded

    @property
    def runners(self) -> dict[int, CameraRunner]:
        return dict(self._runners)

    def stop(self) -> None:
        """Ask the worker to finish (safe from a signal handler)."""
        self._stop.set()

    def _report(self, camera_id: int, report: HealthReport) -> None:
        """Called by camera threads. The worker's thread writes it; a newer report of the same
        camera replaces one not yet written (a transition's error is kept)."""
        with self._reports_lock:
            pending = self._reports.get(camera_id)
            if pending is not None and report.error is None and report.health != Camera.Health.ONLINE:
                report.error = pending.error
            self._reports[camera_id] = report

    def cameras_owned(self) -> dict[int, CameraSpec]:
        rows = (
            cameras_under_operation()
            .filter(stream_kind__in=SOURCE_KINDS)
            .exclude(stream_url="")
            .annotate(shard=Mod("pk", self.shard_count))
            .filter(shard=self.shard_index)
            .values_list("pk", "stream_kind", "stream_url", "sample_fps")
        )
        return {pk: CameraSpec(pk, kind, url, float(fps)) for pk, kind, url, fps in rows}

    def run(self) -> None:
        logger.info("ingest worker shard %s/%s starting", self.shard_index, self.shard_count)
        next_reload = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                close_old_connections()  # drop a connection the database closed or restarted
                if now >= next_reload:
                    self._reload()
                    next_reload = now + self.reload_interval_s
                self._flush_reports()
                self._retired = [runner for runner in self._retired if runner.is_alive()]
                self._stop.wait(self.tick_s)
        finally:
            self._shutdown()

    def _reload(self) -> None:
        try:
            wanted = self.cameras_owned()
        except DatabaseError as error:
            logger.warning("ingest: cannot load the camera set (%s); keeping the current one", type(error).__name__)
            return
        for camera_id, runner in list(self._runners.items()):
            if wanted.get(camera_id) != runner.spec or not runner.is_alive():
                self._retire(camera_id)
        for camera_id, spec in wanted.items():
            if camera_id not in self._runners:
                runner = self._runner_factory(spec, self._report, health_interval_s=self.health_interval_s)
                self._runners[camera_id] = runner
                runner.start()
                logger.info("camera %s: reading (%s at %g fps)", camera_id, spec.stream_kind, spec.sample_fps)
        if not self.loaded.is_set():
            logger.info("Ingest worker ready: shard %s/%s, %s cameras", self.shard_index, self.shard_count, len(wanted))
            self.loaded.set()

    def _retire(self, camera_id: int) -> None:
        runner = self._runners.pop(camera_id)
        runner.stop()
        self._retired.append(runner)
        with self._reports_lock:
            self._reports.pop(camera_id, None)  # it is no longer ours to report on
        logger.info("camera %s: stopped reading", camera_id)

    def _flush_reports(self) -> None:
        with self._reports_lock:
            reports, self._reports = self._reports, {}
        for camera_id, report in reports.items():
            try:
                camera_health_update(
                    camera_id=camera_id,
                    health=report.health,
                    frame_at=datetime.fromtimestamp(report.frame_at, tz=UTC) if report.frame_at else None,
                    achieved_fps=report.achieved_fps,
                    error=report.error,
                )
            except DatabaseError as error:
                logger.warning("camera %s: cannot record health (%s)", camera_id, type(error).__name__)
                close_old_connections()

    def _shutdown(self) -> None:
        for camera_id in list(self._runners):
            self._retire(camera_id)
        deadline = time.monotonic() + STOP_JOIN_S
        for runner in self._retired:
            runner.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [runner.spec.camera_id for runner in self._retired if runner.is_alive()]
        if stuck:
            logger.warning("ingest: camera threads still closing at exit: %s", stuck)
        connection.close()
        logger.info("ingest worker shard %s/%s stopped", self.shard_index, self.shard_count)
