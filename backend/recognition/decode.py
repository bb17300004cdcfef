"""Decoding only what sampling needs (PyAV, FFmpeg's libraries).

A camera sends 25 frames a second and recognition samples one. Decoding every frame to keep one
costs 18-20% of a core per 1080p H.264 camera (issue 16); what can be skipped depends on the
stream's keyframe interval (GOP), which the packets announce without being decoded:
- keyframes only, when a keyframe comes at least once per sample interval: a keyframe decodes on
  its own, every other packet is demuxed and dropped undecoded;
- every frame that others refer to, otherwise (a P-frame needs every reference frame since its
  keyframe; non-reference B-frames are skipped), converting to BGR only the one handed over.
The mode is chosen from the measured keyframe interval and may change at any keyframe (the only
place a decoder can start afresh), so a camera whose GOP changes is followed."""

from __future__ import annotations

from dataclasses import dataclass

import av
import av.container
import av.stream
import av.video
from prometheus_client import Counter

GOP_TOLERANCE = 1.1  # a GOP up to 10% longer than the sample interval still counts as fitting

PACKETS_UNDECODED = Counter(
    "fr_ingest_packets_undecoded_total",
    "Video packets that ingest demuxed and did not decode (keyframe-only sampling).",
    ["source"],
)


@dataclass
class DecodeStats:
    packets: int = 0
    decoded: int = 0  # frames the decoder produced
    undecoded: int = 0  # packets dropped before the decoder (keyframe-only mode)


class SampledDecoder:
    """Feeds one video stream's packets to its decoder, as few as the sample interval allows.

    `sample_interval_s` None means no sampling is known: decode everything (the old behaviour)."""

    def __init__(self, stream: av.video.stream.VideoStream, *, sample_interval_s: float | None, kind: str) -> None:
        self._stream = stream
        self._time_base = float(stream.time_base) if stream.time_base else None
        # One decoding thread per camera: many cameras share the cores, and frame threading adds
        # a frame of latency per thread.
        stream.codec_context.thread_count = 1
        if sample_interval_s is not None:
            # Frames no other frame refers to (most B-frames) are never needed to decode the next
            # sample: skip them. The sample handed over is then at most a frame or two older
            # (about 80 ms at 25 fps), and a stream with B-frames decodes ~20% cheaper.
            stream.codec_context.skip_frame = "NONREF"
        self._interval = sample_interval_s
        self._kind = kind
        self._last_key_at: float | None = None
        self.keyframe_interval_s: float | None = None
        self.keyframes_only = False
        self.stats = DecodeStats()

    def packet_time(self, packet: av.Packet) -> float | None:
        if packet.pts is None or self._time_base is None:
            return None
        return float(packet.pts) * self._time_base

    def decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        """The frames this packet gives (often none: skipped, or the decoder holds it back)."""
        if packet.size == 0:
            return []  # the demuxer's end-of-stream marker
        self.stats.packets += 1
        if packet.is_keyframe:
            self._keyframe_seen(self.packet_time(packet))
        elif self.keyframes_only:
            self.stats.undecoded += 1
            PACKETS_UNDECODED.labels(self._kind).inc()
            return []
        codec = self._stream.codec_context
        frames = list(codec.decode(packet))
        if self.keyframes_only:
            # A decoder that may reorder (B-frames) holds each frame back until later ones come,
            # and here none come until the next keyframe: drain it now, then reset it so that it
            # takes the next keyframe as a fresh start. Without this a sample is two GOPs late.
            frames += list(codec.decode(None))
            codec.flush_buffers()
        self.stats.decoded += len(frames)
        return frames  # type: ignore[return-value]

    def _keyframe_seen(self, at: float | None) -> None:
        if at is not None and self._last_key_at is not None and at > self._last_key_at:
            self.keyframe_interval_s = at - self._last_key_at
        if at is not None:
            self._last_key_at = at
        self.keyframes_only = keyframes_fit(self.keyframe_interval_s, self._interval)


def keyframes_fit(keyframe_interval_s: float | None, sample_interval_s: float | None) -> bool:
    """Keyframes alone are enough when one comes at least once per sample interval."""
    if keyframe_interval_s is None or sample_interval_s is None:
        return False
    return keyframe_interval_s <= sample_interval_s * GOP_TOLERANCE


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    return container.streams.video[0] if container.streams.video else None
