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
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import av
import av.container
import av.video
import cv2
import numpy as np
import requests
from django.conf import settings
from prometheus_client import Counter

from .decode import SampledDecoder, video_stream

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


def _rtsp_options(url: str) -> dict[str, str]:
    # RTSP over TCP: with the default (UDP) transport the first read fails behind NAT and loses
    # packets under load (ENVIRONMENT.md).
    return {"rtsp_transport": "tcp"} if urlsplit(url).scheme.lower().startswith("rtsp") else {}


class StreamSource:
    """RTSP (and any other URL FFmpeg opens: rtsps, rtmp, HTTP MJPEG or HLS) through PyAV.

    A reader thread demuxes every packet as it arrives, so nothing piles up in the socket, and
    decodes only what sampling needs (decode.py: keyframes alone when the stream's keyframe
    interval fits the camera's sample interval). Only the frame that follows a `read()` request
    (or, keyframes only, the newest keyframe not yet handed over) is converted to BGR; every other
    frame is skipped and counted."""

    kind = "rtsp"

    def __init__(
        self,
        url: str,
        *,
        sample_fps: float | None = None,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        read_wait_s: float = READ_WAIT_S,
    ) -> None:
        self._url = url
        scheme = urlsplit(url).scheme.lower()
        self._what = "RTSP stream" if scheme.startswith("rtsp") else "video stream"
        self._sample_interval_s = 1.0 / sample_fps if sample_fps else None
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._read_wait_s = read_wait_s
        self._cond = threading.Condition()
        self._want = False
        self._frame: Frame | None = None
        self._keyframe: tuple[av.VideoFrame, float] | None = None  # newest not handed over
        self._failed = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.decoder: SampledDecoder | None = None
        self.skipped = 0

    def open(self) -> None:
        reason = _tcp_check(self._url, self._open_timeout_s)
        if reason:
            raise SourceError(f"Cannot open the {self._what} ({reason}).")
        try:
            container = av.open(
                self._url,
                options=_rtsp_options(self._url),
                timeout=(self._open_timeout_s, self._read_timeout_s),
            )
        except (av.FFmpegError, OSError):
            raise SourceError(f"Cannot open the {self._what} (the server sent no playable video).") from None
        stream = video_stream(container)
        if stream is None:
            container.close()
            raise SourceError(f"Cannot open the {self._what} (the server sent no playable video).")
        self.decoder = SampledDecoder(stream, sample_interval_s=self._sample_interval_s, kind=self.kind)
        self._thread = threading.Thread(
            target=self._reader, args=(container, stream), name="ingest-reader", daemon=True
        )
        self._thread.start()

    def _reader(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> None:
        assert self.decoder is not None
        try:
            for packet in container.demux(stream):
                if self._closing:
                    break
                try:
                    frames = self.decoder.decode(packet)
                except av.FFmpegError:
                    continue  # a damaged packet: the next keyframe recovers
                if frames:
                    self._offer(frames[-1], time.time(), dropped=len(frames) - 1)
        except (av.FFmpegError, OSError):
            pass  # the stream failed or timed out: read() says so
        finally:
            container.close()  # by the thread that uses it: never while a demux is running
            with self._cond:
                self._failed = True
                self._cond.notify_all()

    def _offer(self, frame: av.VideoFrame, arrived_at: float, *, dropped: int) -> None:
        assert self.decoder is not None
        with self._cond:
            self._skip(dropped)
            if not self._want:
                if self.decoder.keyframes_only:  # kept unconverted: the next read() takes it
                    if self._keyframe is not None:
                        self._skip(1)
                    self._keyframe = (frame, arrived_at)
                else:
                    self._skip(1)
                return
            self._frame, self._want, self._keyframe = Frame(_bgr(frame), arrived_at), False, None
            self._cond.notify_all()

    def _skip(self, count: int) -> None:
        if count > 0:
            self.skipped += count
            FRAMES_SKIPPED.labels(self.kind).inc(count)

    def read(self) -> Frame | None:
        with self._cond:
            if self._failed:
                raise SourceError(f"The {self._what} stopped sending video.")
            if self._keyframe is not None:  # keyframes only: the newest one nobody has seen yet
                (frame, arrived_at), self._keyframe = self._keyframe, None
                return Frame(_bgr(frame), arrived_at)
            self._want, self._frame = True, None
            self._cond.wait_for(lambda: self._frame is not None or self._failed, timeout=self._read_wait_s)
            frame_ready, self._frame = self._frame, None
            if frame_ready is None and self._failed:
                raise SourceError(f"The {self._what} stopped sending video.")
            return frame_ready

    def close(self) -> None:
        self._closing = True
        if self._thread is not None:
            # A demux can block up to the read timeout; the thread closes the container itself.
            self._thread.join(timeout=self._read_timeout_s + 1.0)


def _bgr(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="bgr24")


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
    newest frame the file shows now, as if it had been playing since open(). Packets in between
    are demuxed and decoded only as far as sampling needs (decode.py), like a live camera's."""

    kind = "file"

    def __init__(
        self,
        url: str,
        *,
        sample_fps: float | None = None,
        datasets_dir: Path | None = None,
        read_wait_s: float = READ_WAIT_S,
    ) -> None:
        self._path = file_path_resolve(url, datasets_dir)
        self._sample_interval_s = 1.0 / sample_fps if sample_fps else None
        self._read_wait_s = read_wait_s
        self._container: av.container.InputContainer | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._pending: tuple[float, av.Packet] | None = None  # demuxed, not yet due
        self.decoder: SampledDecoder | None = None
        self.fps = FILE_FALLBACK_FPS
        self._started = 0.0  # monotonic time at which the current lap's time 0 shows
        self._lap_s = 0.0  # how long the current lap has shown so far (its last packet's end)
        self._index = 0  # packets of this lap (time of a packet without a timestamp)
        self._last_shown = -1.0  # lap time of the last frame read() returned
        self.skipped = 0

    def _container_open(self) -> None:
        try:
            container = av.open(str(self._path))
        except (av.FFmpegError, OSError):
            raise SourceError("Cannot open the video file (not a video that FFmpeg reads).") from None
        stream = video_stream(container)
        if stream is None:
            container.close()
            raise SourceError("Cannot open the video file (not a video that FFmpeg reads).")
        rate = float(stream.average_rate or stream.guessed_rate or 0.0)
        self.fps = rate if 0.5 <= rate <= 240 else FILE_FALLBACK_FPS
        self._container, self._packets = container, container.demux(stream)
        self._first_pts: float | None = None
        self.decoder = SampledDecoder(stream, sample_interval_s=self._sample_interval_s, kind=self.kind)
        self._pending, self._index, self._at_end = None, 0, False

    def open(self) -> None:
        if not self._path.is_file():
            raise SourceError("The video file does not exist.")
        self._container_open()
        self._started, self._last_shown, self._lap_s = time.monotonic(), -1.0, 0.0

    def _next_packet(self) -> tuple[float, av.Packet] | None:
        """The next packet and its time in the lap; None at the end of the file."""
        assert self._packets is not None and self.decoder is not None
        for packet in self._packets:
            if packet.size == 0:
                continue
            at = self.decoder.packet_time(packet)
            if at is None:
                at = self._index / self.fps
            else:
                self._first_pts = at if self._first_pts is None else self._first_pts
                at -= self._first_pts
            self._index += 1
            return at, packet
        return None

    def _rewind(self) -> None:
        """End of the file: the next lap starts where this one ended."""
        if self._index == 0:
            raise SourceError("The video file has no readable frames.")
        lap = self._lap_s + 1.0 / self.fps
        self.close()
        self._container_open()
        self._started += lap
        self._last_shown -= lap
        self._lap_s = 0.0

    def read(self) -> Frame | None:
        if self._container is None or self.decoder is None:
            raise SourceError("The video file is not open.")
        deadline = time.monotonic() + self._read_wait_s
        while True:
            playhead = time.monotonic() - self._started
            newest = self._decode_until(playhead)
            if newest is not None:
                at, frame = newest
                self._last_shown = at
                try:
                    image = frame.to_ndarray(format="bgr24")
                except (av.FFmpegError, ValueError):
                    raise FrameDecodeError("A frame of the video file could not be decoded.") from None
                return Frame(image, time.time() - (playhead - at))
            # Nothing new shows yet: wait for the next packet's time (or give up for now).
            upcoming = self._pending[0] if self._pending else playhead + 1.0 / self.fps
            wait = self._started + upcoming - time.monotonic()
            if time.monotonic() + max(wait, 0.0) > deadline:
                return None
            time.sleep(max(0.0, wait))

    def _decode_until(self, playhead: float) -> tuple[float, av.VideoFrame] | None:
        """Feeds every packet due by `playhead`; the newest frame decoded past the last one shown."""
        assert self.decoder is not None
        newest: tuple[float, av.VideoFrame] | None = None
        while True:
            item = self._pending or (None if self._at_end else self._next_packet())
            self._pending = None
            if item is None:
                if newest is not None:  # the lap's last frame first; the next read() rewinds
                    self._at_end = True
                    return newest
                self._rewind()
                playhead = time.monotonic() - self._started
                continue
            at, packet = item
            if at > playhead:
                self._pending = item
                return newest
            self._lap_s = max(self._lap_s, at)
            try:
                frames = self.decoder.decode(packet)
            except av.FFmpegError:
                raise FrameDecodeError("A frame of the video file could not be decoded.") from None
            shown = self._frame_time(frames[-1], at) if frames else at
            if frames and shown > self._last_shown:
                if newest is not None:
                    self.skipped += 1
                    FRAMES_SKIPPED.labels(self.kind).inc()
                newest = (shown, frames[-1])

    def _frame_time(self, frame: av.VideoFrame, packet_at: float) -> float:
        """When a decoded frame shows in the lap: its own timestamp (a decoder that reorders
        gives frames later than their packets), else its packet's."""
        if frame.pts is None or frame.time_base is None or self._first_pts is None:
            return packet_at
        return float(frame.pts * frame.time_base) - self._first_pts

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container, self._packets = None, None


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


def source_for(stream_kind: str, url: str, *, sample_fps: float | None = None) -> FrameSource:
    """`sample_fps`: how often ingest samples the camera; video sources decode only what it needs."""
    if stream_kind == "rtsp":
        return StreamSource(url, sample_fps=sample_fps)
    if stream_kind == "snapshot":
        return SnapshotSource(url)
    if stream_kind == "file":
        return FileSource(url, sample_fps=sample_fps)
    if stream_kind == "composed":
        return ComposedSource(url)
    raise ValueError(f"ingest does not read stream kind {stream_kind!r}")
