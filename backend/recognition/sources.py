"""Where ingest gets frames: one `FrameSource` per camera stream kind.

A source is opened, read and closed by one camera thread of the ingest worker. `read()` gives
the newest frame there is (live sources never queue: a frame that a newer one overtook is skipped
and counted), None when no new frame came within a short wait, and raises `SourceError` when the
source failed (the worker closes it and reconnects with back-off) or `FrameDecodeError` when it
sent something that is not an image (the camera is degraded; the source stays open).

Error messages are short sentences shown to operators and stored on the camera. They never
contain the stream URL, which may hold credentials (rtsp://user:password@host/...)."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np
import requests
from django.conf import settings
from prometheus_client import Counter

logger = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 5.0  # connecting to a stream (TCP + RTSP handshake + first packets)
READ_TIMEOUT_S = 5.0  # a stream that sends nothing for this long has failed
READ_WAIT_S = 1.0  # how long read() waits for a new frame before it says None
SNAPSHOT_CONNECT_TIMEOUT_S = 3.0
SNAPSHOT_READ_TIMEOUT_S = 5.0
SNAPSHOT_MAX_BYTES = 20 * 1024 * 1024
FILE_FALLBACK_FPS = 25.0

# Per-process, like the metrics of backend.core.metrics (multiprocess mode aggregates them).
FRAMES_SKIPPED = Counter(
    "fr_ingest_frames_skipped_total",
    "Frames a source decoded that ingest did not sample (overtaken by a newer frame).",
    ["source"],
)


class SourceError(Exception):
    """The source cannot deliver frames. The message is safe to show and store (no URL)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FrameDecodeError(SourceError):
    """The source answered, but not with an image (the camera sends garbage)."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, uint8, H x W x 3
    captured_at: float  # Unix time (time.time()) when ingest grabbed it


class FrameSource(Protocol):
    kind: str  # the metrics label: rtsp, snapshot, file, composed

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


def network_reason(error: BaseException) -> str:
    """A few words for why a connection failed, from the exception chain (never its text, which
    may quote the URL)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, TimeoutError | socket.timeout | requests.Timeout):
            return "timed out"
        if isinstance(current, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, OSError) and current.errno is not None and current.errno in {101, 113}:
            return "network unreachable"
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return "network error"


_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


def _tcp_check(url: str, timeout_s: float) -> str | None:
    """Why the stream's host cannot be reached over TCP, or None when it can (or when the URL
    names no TCP host). FFmpeg only says that opening failed; this says why."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return "invalid address"
    if not host or not port:
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return network_reason(error)


def _ffmpeg_options_default() -> None:
    # RTSP over TCP: with the default (UDP) transport the first read fails behind NAT and loses
    # packets under load (ENVIRONMENT.md). An operator's own setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


class StreamSource:
    """RTSP (and any other URL FFmpeg opens: rtsps, rtmp, HTTP MJPEG or HLS) through OpenCV.

    A reader thread grabs (demuxes and decodes) every frame as it arrives, so nothing piles up in
    the socket or the decoder; only the frame that follows a `read()` request is converted to BGR
    and handed over. Every other frame is skipped and counted."""

    kind = "rtsp"

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        read_wait_s: float = READ_WAIT_S,
    ) -> None:
        self._url = url
        scheme = urlsplit(url).scheme.lower()
        self._what = "RTSP stream" if scheme.startswith("rtsp") else "video stream"
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._read_wait_s = read_wait_s
        self._cond = threading.Condition()
        self._want = False
        self._frame: Frame | None = None
        self._failed = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.skipped = 0

    def open(self) -> None:
        _ffmpeg_options_default()
        reason = _tcp_check(self._url, self._open_timeout_s)
        if reason:
            raise SourceError(f"Cannot open the {self._what} ({reason}).")
        capture = cv2.VideoCapture(
            self._url,
            cv2.CAP_FFMPEG,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self._open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(self._read_timeout_s * 1000),
            ],
        )
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"Cannot open the {self._what} (the server sent no playable video).")
        self._thread = threading.Thread(target=self._reader, args=(capture,), name="ingest-reader", daemon=True)
        self._thread.start()

    def _reader(self, capture: cv2.VideoCapture) -> None:
        try:
            while not self._closing:
                grabbed = capture.grab()
                grabbed_at = time.time()
                if not grabbed:
                    break
                with self._cond:
                    if not self._want:
                        self.skipped += 1
                        FRAMES_SKIPPED.labels(self.kind).inc()
                        continue
                    ok, image = capture.retrieve()
                    if ok and image is not None:
                        self._frame, self._want = Frame(image, grabbed_at), False
                        self._cond.notify_all()
        finally:
            capture.release()  # by the thread that uses it: never while a grab() is running
            with self._cond:
                self._failed = True
                self._cond.notify_all()

    def read(self) -> Frame | None:
        with self._cond:
            if self._failed:
                raise SourceError(f"The {self._what} stopped sending video.")
            self._want, self._frame = True, None
            self._cond.wait_for(lambda: self._frame is not None or self._failed, timeout=self._read_wait_s)
            frame, self._frame = self._frame, None
            if frame is None and self._failed:
                raise SourceError(f"The {self._what} stopped sending video.")
            return frame

    def close(self) -> None:
        self._closing = True
        if self._thread is not None:
            # A grab() can block up to the read timeout; the thread releases the capture itself.
            self._thread.join(timeout=self._read_timeout_s + 1.0)


class SnapshotSource:
    """HTTP snapshot polling: each read() is one GET of a JPEG (or any image OpenCV decodes)."""

    kind = "snapshot"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float = SNAPSHOT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = SNAPSHOT_READ_TIMEOUT_S,
        max_bytes: int = SNAPSHOT_MAX_BYTES,
    ) -> None:
        self._url = url
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._max_bytes = max_bytes
        self._session: requests.Session | None = None
        self.skipped = 0

    def open(self) -> None:
        self._session = requests.Session()
        self._session.headers["Accept"] = "image/jpeg, image/*"

    def read(self) -> Frame | None:
        if self._session is None:
            raise SourceError("The snapshot source is not open.")
        requested_at = time.time()  # the camera takes the picture after this, never before
        try:
            with self._session.get(self._url, timeout=self._timeout, stream=True, allow_redirects=False) as response:
                if response.status_code != 200:
                    raise SourceError(f"The snapshot URL answered HTTP {response.status_code}.")
                body = bytearray()
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise FrameDecodeError(f"The snapshot is larger than {self._max_bytes // (1024 * 1024)} MB.")
        except requests.RequestException as error:
            raise SourceError(f"Cannot reach the snapshot URL ({network_reason(error)}).") from None
        image = cv2.imdecode(np.frombuffer(bytes(body), np.uint8), cv2.IMREAD_COLOR) if body else None
        if image is None:
            raise FrameDecodeError("The snapshot URL did not return an image.")
        return Frame(image, requested_at)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def file_path_resolve(url: str, datasets_dir: Path | None = None) -> Path:
    """A file camera's URL: a path relative to the datasets folder, or absolute (file:// too)."""
    text = url[len("file://") :] if url.startswith("file://") else url
    path = Path(text)
    return path if path.is_absolute() else Path(datasets_dir or settings.DATASETS_DIR) / path


class FileSource:
    """Replays a video file in a loop at its native frame rate, in real time: read() gives the
    frame the file shows now, as if it had been playing since open(); frames in between are
    decoded and skipped, like a live camera's."""

    kind = "file"

    def __init__(self, url: str, *, datasets_dir: Path | None = None, read_wait_s: float = READ_WAIT_S) -> None:
        self._path = file_path_resolve(url, datasets_dir)
        self._read_wait_s = read_wait_s
        self._capture: cv2.VideoCapture | None = None
        self.fps = FILE_FALLBACK_FPS
        self._started = 0.0  # monotonic time at which frame 0 of the current lap shows
        self._next = 0  # index of the next frame grab() gives
        self._last = -1  # index of the last frame read() returned
        self.skipped = 0

    def _capture_open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        if not capture.isOpened():
            capture.release()
            raise SourceError("Cannot open the video file (not a video that FFmpeg reads).")
        return capture

    def open(self) -> None:
        if not self._path.is_file():
            raise SourceError("The video file does not exist.")
        self._capture = self._capture_open()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 240 else FILE_FALLBACK_FPS
        self._started, self._next, self._last = time.monotonic(), 0, -1

    def _playhead(self) -> int:
        return int((time.monotonic() - self._started) * self.fps)

    def _rewind(self) -> None:
        """End of the file: the next lap starts where this one ended."""
        if self._next == 0:
            raise SourceError("The video file has no readable frames.")
        assert self._capture is not None
        self._capture.release()
        self._capture = self._capture_open()
        lap = self._next
        self._started += lap / self.fps
        self._next, self._last = 0, self._last - lap

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError("The video file is not open.")
        target = self._playhead()
        if target <= self._last:  # the file has not moved on yet: wait for its next frame
            wait = self._started + (self._last + 1) / self.fps - time.monotonic()
            if wait > self._read_wait_s:
                return None
            time.sleep(max(0.0, wait))
            target = max(self._playhead(), self._last + 1)
        while True:
            if not self._capture.grab():
                self._rewind()
                target = max(self._playhead(), self._last + 1)
                continue
            grabbed_at = time.time()
            self._next += 1
            if self._next - 1 < target:
                self.skipped += 1
                FRAMES_SKIPPED.labels(self.kind).inc()
                continue
            ok, image = self._capture.retrieve()
            if not ok or image is None:
                raise FrameDecodeError("A frame of the video file could not be decoded.")
            self._last = self._next - 1
            return Frame(image, grabbed_at)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


Composer = Callable[[str], Iterator[np.ndarray]]
_composer: Composer | None = None


def composer_register(composer: Composer) -> None:
    """The demo app registers its frame composer at start-up (backend/demo/apps.py): recognition
    reads composed streams without importing the demo tooling above it."""
    global _composer
    _composer = composer


class ComposedSource:
    """Demo frames composed of dataset faces (the composer the demo app registered); each read()
    is the next frame of its endless stream. The worker paces reads at the camera's fps."""

    kind = "composed"

    def __init__(self, url: str) -> None:
        self._url = url
        self._frames: Iterator[np.ndarray] | None = None
        self.skipped = 0

    def open(self) -> None:
        if _composer is None:
            raise SourceError("The demo frame composer is not installed.")
        try:
            self._frames = _composer(self._url)
        except Exception:
            logger.exception("composed source: cannot start the composer")
            raise SourceError("Cannot compose demo frames for this camera.") from None

    def read(self) -> Frame | None:
        if self._frames is None:
            raise SourceError("The demo frame composer is not open.")
        try:
            image = next(self._frames)
        except StopIteration:
            raise SourceError("The demo frame composer ran out of frames.") from None
        except Exception:
            logger.exception("composed source: composing a frame failed")
            raise SourceError("Composing a demo frame failed (see the ingest log).") from None
        return Frame(image, time.time())

    def close(self) -> None:
        close = getattr(self._frames, "close", None)  # a generator: runs its cleanup
        if callable(close):
            close()
        self._frames = None


SOURCE_KINDS = ("rtsp", "snapshot", "file", "composed")  # Camera.StreamKind values ingest reads


def source_for(stream_kind: str, url: str) -> FrameSource:
    if stream_kind == "rtsp":
        return StreamSource(url)
    if stream_kind == "snapshot":
        return SnapshotSource(url)
    if stream_kind == "file":
        return FileSource(url)
    if stream_kind == "composed":
        return ComposedSource(url)
    raise ValueError(f"ingest does not read stream kind {stream_kind!r}")
