"""Frames of a "composed" demo camera: dataset crowd footage with dataset portraits walking through it.

A composed camera's URL names a scene (free text, shown nowhere but logs), a seed, optionally a
background video and a nominal frame rate:

    composed:<scene>?seed=<int>[&bg=arcade|street|crowd][&fps=<float>]

`compose_stream(url)` yields BGR frames (FRAME_SIZE) forever: one call of `next()` is one frame of
a stream running at `fps` frames per second (default 2, a demo camera's sample rate), so a reader
that pulls at that rate sees people walk at a natural pace. The same URL always gives the same
frames.

What is in a frame: a background frame of one of the datasets' crowd videos (played forwards and
backwards), and one or two people walking across it for a few seconds each, separated by gaps. A
"person" is a head-and-shoulders cut from a portrait photo of the datasets, pasted with a feathered
elliptical edge at a face width of about 100-160 px. Most walkers are identities that `demo_seed`
enrols on the demo watchlist, shown through a *different* photo from the enrolled one (so a match
is a real 1:N identification, not a copy lookup); about one walker in three is a dataset identity
that is not enrolled, so not every passer-by raises an alert. The first walker of every stream is
enrolled, so an alert follows within seconds of a camera starting.

Faces were measured through the real pipeline (RetinaFace box -> dlib chip -> ResNet template):
the paste boxes below are that detector's boxes on the pasted photos; scores of composed frames
against the enrolled templates are reported by tests/integration/test_demo_seed.py.
"""

from __future__ import annotations

import math
import os
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import cv2
import numpy as np

FRAME_SIZE = (1280, 720)  # width, height
DEFAULT_FPS = 2.0
URL_SCHEME = "composed"

# Background videos (paths relative to the datasets folder): pedestrians and crowds, CCTV-like.
BACKGROUNDS: dict[str, str] = {
    "arcade": "facenet_pytorch/examples/video.mp4",
    "street": "opencv4nodejs/data/people.mp4",
    "crowd": "dlib/dlib/test/ffmpeg_data/MOT20-05-raw_even_shorter.mp4",
}
MAX_BACKGROUND_FRAMES = 48


@dataclass(frozen=True)
class DemoIdentity:
    """A dataset identity of the demo. `enrol` is the photo enrolled on the demo watchlist (None:
    never enrolled, a passer-by who must not alert); `paste` is the different photo that walks
    through composed frames, with the detector's face box on it (x1, y1, x2, y2; None: not pasted)."""

    key: str  # "<dataset>:<label>", as in the datasets' manifest
    name: str  # display name on the watchlist
    enrol: str | None
    paste: str | None = None
    paste_box: tuple[float, float, float, float] | None = None

    @property
    def enrolled(self) -> bool:
        return self.enrol is not None


DEMO_IDENTITIES: tuple[DemoIdentity, ...] = (
    # Appears in the replayed face_recognition/examples/short_hamilton_clip.mp4 (a "file" camera).
    DemoIdentity(
        "face_recognition:lin_manuel_miranda",
        "Lin-Manuel Miranda (demo, face_recognition dataset)",
        enrol="face_recognition/examples/lin-manuel-miranda.png",
    ),
    DemoIdentity(
        "face_recognition:obama",
        "Barack Obama (demo, face_recognition dataset)",
        enrol="face_recognition/examples/knn_examples/train/obama/obama.jpg",
        paste="face_recognition/tests/test_images/obama3.jpg",
        paste_box=(646.9, 266.6, 904.3, 614.2),
    ),
    DemoIdentity(
        "face_recognition:alex_lacamoire",
        "Alex Lacamoire (demo, face_recognition dataset)",
        enrol="face_recognition/examples/knn_examples/train/alex_lacamoire/img1.jpg",
        paste="face_recognition/examples/knn_examples/test/alex_lacamoire1.jpg",
        paste_box=(642.1, 110.5, 936.8, 550.7),
    ),
    DemoIdentity(
        "face_recognition:rose_leslie",
        "Rose Leslie (demo, face_recognition dataset)",
        enrol="face_recognition/examples/knn_examples/train/rose_leslie/img1.jpg",
        paste="face_recognition/examples/knn_examples/train/rose_leslie/img2.jpg",
        paste_box=(174.6, 105.5, 415.2, 455.2),
    ),
    DemoIdentity(
        "deepface:angelina",
        "Angelina Jolie (demo, deepface dataset)",
        enrol="deepface/img2.jpg",
        paste="deepface/img10.jpg",
        paste_box=(95.0, 99.4, 303.7, 382.6),
    ),
    DemoIdentity(
        "deepface:deepface_c03",
        "Unnamed person c03 (demo, deepface dataset)",
        enrol="deepface/img8.jpg",
        paste="deepface/img47.jpg",
        paste_box=(320.2, 331.7, 976.1, 1198.2),
    ),
    DemoIdentity(
        "deepface:deepface_c04",
        "Unnamed person c04 (demo, deepface dataset)",
        enrol="deepface/img13.jpg",
        paste="deepface/img14.jpg",
        paste_box=(342.8, 69.6, 485.9, 275.0),
    ),
    # Passers-by: dataset identities that are never enrolled (best score against the enrolled
    # photos above 0.83-0.87, well under the 0.92 threshold).
    DemoIdentity(
        "facenet_pytorch:shea_whigham",
        "",
        enrol=None,
        paste="facenet_pytorch/data/test_images/shea_whigham/1.jpg",
        paste_box=(839.0, 365.1, 1271.5, 938.2),
    ),
    DemoIdentity(
        "facenet_pytorch:paul_rudd",
        "",
        enrol=None,
        paste="facenet_pytorch/data/test_images/paul_rudd/1.jpg",
        paste_box=(351.2, 523.3, 1325.4, 1653.4),
    ),
    DemoIdentity(
        "deepface:deepface_c06",
        "",
        enrol=None,
        paste="deepface/img18.jpg",
        paste_box=(392.4, 223.4, 819.2, 790.9),
    ),
)


def identity_by_key(key: str) -> DemoIdentity:
    return next(identity for identity in DEMO_IDENTITIES if identity.key == key)


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class ComposedSpec:
    scene: str
    seed: int
    background: str | None  # a BACKGROUNDS key; None: chosen by the seed
    fps: float


def composed_url(scene: str, *, seed: int, background: str | None = None, fps: float | None = None) -> str:
    query: dict[str, object] = {"seed": seed}
    if background:
        query["bg"] = background
    if fps:
        query["fps"] = fps
    return f"{URL_SCHEME}:{scene}?{urlencode(query)}"


def composed_parse(url: str) -> ComposedSpec:
    """Raises ValueError for anything that is not a well-formed composed URL."""
    parts = urlsplit(url)
    if parts.scheme != URL_SCHEME or not parts.path:
        raise ValueError("not a composed demo URL (composed:<scene>?seed=N)")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"seed", "bg", "fps"}
    if unknown:
        raise ValueError(f"unknown parameter(s) of a composed URL: {', '.join(sorted(unknown))}")
    try:
        seed = int(query.get("seed", "0"))
        fps = float(query.get("fps", DEFAULT_FPS))
    except ValueError:
        raise ValueError("seed must be an integer and fps a number") from None
    if not 0.1 <= fps <= 30:
        raise ValueError("fps must be between 0.1 and 30")
    background = query.get("bg") or None
    if background is not None and background not in BACKGROUNDS:
        raise ValueError(f"bg must be one of {', '.join(BACKGROUNDS)}")
    return ComposedSpec(scene=parts.path, seed=seed, background=background, fps=fps)


def datasets_dir_default() -> Path:
    """settings.DATASETS_DIR when Django is configured, else FR_DATASETS_DIR, else ../shared/datasets."""
    try:
        from django.conf import settings

        return Path(settings.DATASETS_DIR)
    except Exception:  # settings not configured: a plain script or a unit test
        root = Path(__file__).resolve().parents[3]
        return Path(os.environ.get("FR_DATASETS_DIR", root / "shared" / "datasets"))


# --------------------------------------------------------------------------- media caches

_cache_lock = threading.Lock()
_backgrounds: dict[tuple[str, int], list[np.ndarray]] = {}
_cutouts: dict[tuple[str, int], Cutout] = {}


def _fit(frame: np.ndarray) -> np.ndarray:
    """Centre-crop to the frame's aspect ratio, then resize to FRAME_SIZE."""
    width, height = FRAME_SIZE
    h, w = frame.shape[:2]
    if w * height > h * width:
        crop = round(h * width / height)
        frame = frame[:, (w - crop) // 2 : (w - crop) // 2 + crop]
    else:
        crop = round(w * height / width)
        frame = frame[(h - crop) // 2 : (h - crop) // 2 + crop]
    return cv2.resize(frame, FRAME_SIZE, interpolation=cv2.INTER_AREA)


def background_frames(path: Path, *, fps: float) -> list[np.ndarray]:
    """Up to MAX_BACKGROUND_FRAMES frames of a video, every `video fps / fps`-th one (so the
    background moves at about real speed), read once per process."""
    with _cache_lock:
        step = 0
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise FileNotFoundError(f"cannot read the background video {path}")
            video_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
            step = max(1, round(video_fps / fps))
            key = (str(path), step)
            if key in _backgrounds:
                return _backgrounds[key]
            frames: list[np.ndarray] = []
            index = 0
            while len(frames) < MAX_BACKGROUND_FRAMES:
                ok = capture.grab()
                if not ok:
                    break
                if index % step == 0:
                    ok, frame = capture.retrieve()
                    if ok:
                        frames.append(_fit(frame))
                index += 1
        finally:
            capture.release()
        if not frames:
            raise FileNotFoundError(f"no frames in the background video {path}")
        _backgrounds[key] = frames
        return frames


@dataclass(frozen=True)
class Cutout:
    """A head-and-shoulders cut of a portrait at a face width of CUTOUT_FACE_PX, with its alpha."""

    image: np.ndarray  # uint8 BGR
    alpha: np.ndarray  # float32 0..1, same height and width
    face_centre: tuple[float, float]  # in the cut's pixels
    face_width: float


CUTOUT_FACE_PX = 200  # stored size; walkers are scaled down from it, never up
# The cut around the face box: half-width and half-height as multiples of the box's width/height,
# and how far down its centre sits (hair above, chin and neck below).
CUT_HALF_W, CUT_HALF_H, CUT_DROP = 1.0, 1.0, 0.12
FEATHER = 0.12  # blur of the alpha edge, as a fraction of the face width


def cutout(datasets_dir: Path, identity: DemoIdentity) -> Cutout:
    assert identity.paste is not None and identity.paste_box is not None
    key = (str(datasets_dir / identity.paste), CUTOUT_FACE_PX)
    with _cache_lock:
        if key in _cutouts:
            return _cutouts[key]
    image = cv2.imread(str(datasets_dir / identity.paste), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read the demo portrait {datasets_dir / identity.paste}")
    x1, y1, x2, y2 = identity.paste_box
    scale = min(1.0, CUTOUT_FACE_PX / (x2 - x1))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x1, y1, x2, y2 = (v * scale for v in (x1, y1, x2, y2))
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + CUT_DROP * h
    left, right = max(0, round(cx - CUT_HALF_W * w)), min(image.shape[1], round(cx + CUT_HALF_W * w))
    top, bottom = max(0, round(cy - CUT_HALF_H * h)), min(image.shape[0], round(cy + CUT_HALF_H * h))
    cut = np.ascontiguousarray(image[top:bottom, left:right])
    # Ellipse around the face centre, cut off where the photo ends, blurred against a zero border so
    # that every edge (the ellipse's and the photo's) fades out.
    ellipse = np.zeros(cut.shape[:2], np.float32)
    centre = (round(cx - left), round(cy - top))
    axes = (round(CUT_HALF_W * w * 0.8), round(CUT_HALF_H * h * 0.8))
    cv2.ellipse(ellipse, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = FEATHER * w
    pad = math.ceil(3 * sigma)
    padded = cv2.copyMakeBorder(ellipse, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    alpha = np.ascontiguousarray(cv2.GaussianBlur(padded, (0, 0), sigma)[pad:-pad, pad:-pad], dtype=np.float32)
    result = Cutout(cut, alpha, (cx - left, cy - top), w)
    with _cache_lock:
        _cutouts[key] = result
    return result


# --------------------------------------------------------------------------- walks


@dataclass(frozen=True)
class Walk:
    """One person crossing the frame: face centre and width move linearly from start to end."""

    identity: DemoIdentity
    first_frame: int
    frames: int
    start: tuple[float, float]
    end: tuple[float, float]
    width_start: float
    width_end: float

    def at(self, frame: int) -> tuple[float, float, float] | None:
        """Face centre x, y and face width at a frame number, or None outside the walk."""
        i = frame - self.first_frame
        if not 0 <= i < self.frames:
            return None
        t = i / max(1, self.frames - 1)
        return (
            self.start[0] + t * (self.end[0] - self.start[0]),
            self.start[1] + t * (self.end[1] - self.start[1]),
            self.width_start + t * (self.width_end - self.width_start),
        )


NOT_ENROLLED_SHARE = 0.3
COMPANION_SHARE = 0.25  # walks that get a second person at the same time
WALK_S = (4.0, 6.0)
GAP_S = (1.5, 4.0)
FACE_PX = (100.0, 135.0)  # face width on entering; it grows by up to 18% (walking closer)
# Heights (fractions of the frame) of the face centre: a companion walks farther back, above the main
# walker, so that their faces never overlap (the nearer person is drawn last, over the other's shoulders).
MAIN_BAND = (0.5, 0.64)
COMPANION_BAND = (0.2, 0.28)


def walks(seed: int, *, fps: float, cast: Sequence[DemoIdentity] | None = None) -> Iterator[Walk]:
    """The endless, seed-determined schedule of walks, in order of their first frame."""
    cast = [identity for identity in (cast or DEMO_IDENTITIES) if identity.paste is not None]
    enrolled = [identity for identity in cast if identity.enrolled]
    others = [identity for identity in cast if not identity.enrolled] or enrolled
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    frame = 0
    last: DemoIdentity | None = None
    first = True
    width, height = FRAME_SIZE

    def pick(exclude: DemoIdentity | None, *, must_enrol: bool = False) -> DemoIdentity:
        pool = enrolled if must_enrol or rng.random() >= NOT_ENROLLED_SHARE else others
        choices = [identity for identity in pool if identity is not exclude] or pool
        return rng.choice(choices)

    def walk(identity: DemoIdentity, start_frame: int, band: tuple[float, float]) -> Walk:
        frames = max(3, round(rng.uniform(*WALK_S) * fps))
        size = rng.uniform(*FACE_PX)
        distance = rng.uniform(0.3, 0.55) * width
        x0 = rng.uniform(0.1 * width, 0.9 * width - distance)
        if rng.random() < 0.5:
            x0, x1 = x0, x0 + distance
        else:
            x0, x1 = x0 + distance, x0
        y0 = rng.uniform(*band) * height
        y1 = y0 + rng.uniform(-0.06, 0.06) * height
        return Walk(identity, start_frame, frames, (x0, y0), (x1, y1), size, size * rng.uniform(1.05, 1.18))

    while True:
        person = pick(last, must_enrol=first)
        main = walk(person, frame, MAIN_BAND)
        yield main
        if not first and rng.random() < COMPANION_SHARE:
            companion = pick(person)
            yield walk(companion, frame + rng.randrange(0, max(1, main.frames // 2)), COMPANION_BAND)
        first = False
        last = person
        frame += main.frames + max(1, round(rng.uniform(*GAP_S) * fps))


def face_paste(frame: np.ndarray, cut: Cutout, x: float, y: float, face_width: float) -> None:
    """Blend a cut-out into the frame (in place) with its face centred at (x, y)."""
    scale = face_width / cut.face_width
    image = cv2.resize(cut.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(cut.alpha, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    left = round(x - cut.face_centre[0] * scale)
    top = round(y - cut.face_centre[1] * scale)
    fx0, fy0 = max(0, left), max(0, top)
    fx1, fy1 = min(frame.shape[1], left + image.shape[1]), min(frame.shape[0], top + image.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    patch = image[fy0 - top : fy1 - top, fx0 - left : fx1 - left].astype(np.float32)
    a = alpha[fy0 - top : fy1 - top, fx0 - left : fx1 - left, None]
    region = frame[fy0:fy1, fx0:fx1]
    blended = region.astype(np.float32)
    blended += a * (patch - blended)
    region[...] = blended.astype(np.uint8)


def compose_stream(url: str, *, datasets_dir: Path | None = None) -> Iterator[np.ndarray]:
    """Endless BGR frames (FRAME_SIZE, uint8) of a composed demo camera; see the module docstring.

    Raises ValueError for a malformed URL and FileNotFoundError when the datasets are missing, both
    on the first `next()`."""
    spec = composed_parse(url)
    root = datasets_dir or datasets_dir_default()
    rng = random.Random(spec.seed)  # noqa: S311 - a reproducible demo, not a secret
    background_name = spec.background or rng.choice(sorted(BACKGROUNDS))
    backgrounds = background_frames(root / BACKGROUNDS[background_name], fps=spec.fps)
    # Forwards then backwards, so the loop has no jump.
    order = list(range(len(backgrounds))) + list(range(len(backgrounds) - 2, 0, -1))
    offset = rng.randrange(len(order))
    for identity in DEMO_IDENTITIES:  # load every cut-out now, so that no later frame waits on a decode
        if identity.paste is not None:
            cutout(root, identity)
    schedule = walks(spec.seed, fps=spec.fps)
    active: list[Walk] = []
    upcoming = next(schedule)
    frame_number = 0
    while True:
        while upcoming.first_frame <= frame_number:
            active.append(upcoming)
            upcoming = next(schedule)
        active = [walk for walk in active if walk.first_frame + walk.frames > frame_number]
        frame = backgrounds[order[(offset + frame_number) % len(order)]].copy()
        # Farther people (smaller faces) first, so a nearer one passes in front.
        placed = [(walk, walk.at(frame_number)) for walk in active]
        for walk, where in sorted(placed, key=lambda item: item[1][2] if item[1] else 0):
            if where is not None:
                face_paste(frame, cutout(root, walk.identity), *where)
        yield frame
        frame_number += 1
