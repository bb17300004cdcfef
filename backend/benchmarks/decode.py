"""CPU per camera of reading an H.264 camera for recognition: full decode vs sampled decode.

    .venv/backend/bin/python -m backend.benchmarks.decode [--seconds 12] [--repeats 3]

Clips: H.264 (libx264 veryfast, yuv420p, 25 fps, 2 B-frames) written once into var/bench/decode/
at 1280x720 and 1920x1080, with a keyframe every 1 s and every 2 s, of two contents:
- `street`: the shared datasets' 1080p25 street video (facenet_pytorch/examples/video.mp4, people
  walking past a fixed camera), looped: what a fixed CCTV camera sends;
- `noise`: a street frame with moving noise over it, the worst case for a decoder (every
  macroblock changes, keyframes are huge), as the issue measured it.

Readers, each reading the whole clip as fast as it can and handing over one frame a second as BGR
(what ingest samples at 1 fps):
- `opencv`: today's code before issue 16, cv2.VideoCapture grab() every frame, retrieve() one
  a second;
- `pyav full`: PyAV decoding every frame, converting one a second;
- `pyav sampled`: backend.recognition.decode.SampledDecoder with a 1 s sample interval (keyframes
  alone when they come at least once a second, else every frame), converting one a second.
Printed per clip and reader: CPU seconds per second of video (= share of one core a camera costs
in real time; process CPU time, so other load on the machine does not count), frames decoded, and
the ratio to `opencv` measured in the same run. The median of --repeats runs is shown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
CLIP_DIR = ROOT / "var" / "bench" / "decode"
BACKGROUND = ROOT.parent / "shared" / "datasets" / "facenet_pytorch" / "examples" / "video.mp4"
FPS = 25
SAMPLE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Clip:
    path: Path
    width: int
    height: int
    gop_s: int
    seconds: int
    content: str = "noise"  # or "street"

    @property
    def label(self) -> str:
        return f"{self.content} {self.height}p{FPS} GOP {self.gop_s} s"


@dataclass(frozen=True)
class Reading:
    cpu_s: float
    decoded: int
    handed: int


def _background(width: int, height: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(BACKGROUND))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        frame = np.full((height, width, 3), 96, np.uint8)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


def _noise_frames(clip: Clip) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(16)
    base = _background(clip.width, clip.height).astype(np.int16)
    noise = rng.integers(-40, 40, (clip.height, clip.width + 8 * FPS * clip.seconds, 3), dtype=np.int16)
    for index in range(FPS * clip.seconds):
        shift = index * 8  # the noise moves: every frame differs from the last
        yield np.clip(base + noise[:, shift : shift + clip.width], 0, 255).astype(np.uint8)


def _street_frames(clip: Clip) -> Iterator[np.ndarray]:
    made = 0
    while made < FPS * clip.seconds:
        with av.open(str(BACKGROUND)) as source:
            for decoded in source.decode(video=0):
                image = decoded.to_ndarray(format="bgr24")
                yield cv2.resize(image, (clip.width, clip.height), interpolation=cv2.INTER_AREA)
                made += 1
                if made >= FPS * clip.seconds:
                    return


def clip_make(clip: Clip) -> None:
    """Writes the clip unless it is there already (the encoder costs more than the decoders)."""
    if clip.path.is_file():
        return
    clip.path.parent.mkdir(parents=True, exist_ok=True)
    frames = _street_frames(clip) if clip.content == "street" else _noise_frames(clip)
    partial = clip.path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        gop = str(FPS * clip.gop_s)
        stream.options = {"preset": "veryfast", "g": gop, "keyint_min": gop, "sc_threshold": "0", "bf": "2"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    partial.rename(clip.path)


def read_opencv(path: Path) -> Reading:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    started = time.process_time()
    decoded = handed = 0
    every = round(FPS * SAMPLE_INTERVAL_S)
    while capture.grab():
        if decoded % every == 0:
            ok, _image = capture.retrieve()
            handed += int(ok)
        decoded += 1
    cpu = time.process_time() - started
    capture.release()
    return Reading(cpu, decoded, handed)


def _read_pyav(path: Path, sampled: bool) -> Reading:
    from backend.recognition.decode import SampledDecoder

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoder = SampledDecoder(stream, sample_interval_s=SAMPLE_INTERVAL_S if sampled else None, kind="bench")
        started = time.process_time()
        handed, next_due = 0, 0.0
        for packet in container.demux(stream):
            for frame in decoder.decode(packet):
                known = frame.pts is not None and frame.time_base is not None
                at = float(frame.pts * frame.time_base) if known else next_due  # type: ignore[operator]
                if at >= next_due - 1e-6:
                    frame.to_ndarray(format="bgr24")
                    handed += 1
                    next_due = at + SAMPLE_INTERVAL_S
        cpu = time.process_time() - started
    return Reading(cpu, decoder.stats.decoded, handed)


READERS: dict[str, Callable[[Path], Reading]] = {
    "opencv": read_opencv,
    "pyav full": lambda path: _read_pyav(path, sampled=False),
    "pyav sampled": lambda path: _read_pyav(path, sampled=True),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12, help="length of each clip")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if "django" not in sys.modules:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")
        django.setup()
    cv2.setNumThreads(1)
    clips = [
        Clip(CLIP_DIR / f"{content}-{h}p-gop{g}-{args.seconds}s.mp4", w, h, g, args.seconds, content)
        for content in ("street", "noise")
        for (w, h) in ((1280, 720), (1920, 1080))
        for g in (1, 2)
    ]
    for clip in clips:
        print(f"writing {clip.path.name} ...", flush=True) if not clip.path.is_file() else None
        clip_make(clip)
    print(f"Sampling at {1 / SAMPLE_INTERVAL_S:g} fps; CPU s per s of video = share of one core per camera")
    print(f"{'clip':<29} {'reader':<13} {'core/camera':>11} {'decoded':>8} {'handed':>7} {'vs opencv':>9}")
    for clip in clips:
        results: dict[str, Reading] = {}
        for name, reader in READERS.items():
            runs = [reader(clip.path) for _ in range(args.repeats)]
            cpu = statistics.median(run.cpu_s for run in runs)
            results[name] = Reading(cpu, runs[0].decoded, runs[0].handed)
        baseline = results["opencv"].cpu_s
        for name, result in results.items():
            share = result.cpu_s / clip.seconds
            ratio = result.cpu_s / baseline if baseline else float("nan")
            print(f"{clip.label:<22} {name:<13} {share:>10.1%} {result.decoded:>8} {result.handed:>7} {ratio:>8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
