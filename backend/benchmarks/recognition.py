"""End-to-end latency of live recognition: capture time of a frame -> alert event on a WebSocket.

    .venv/backend/bin/python -m backend.benchmarks.recognition [--max-cameras 64] [--seconds 20] [--workers 1]

Self-contained: it starts its own stack with the devstack code (test profile, data in
var/bench/live, ports 8720-8732 unless FR_TEST_* say otherwise), on a fresh database, and stops
every process it started at the end (also on Ctrl-C or SIGTERM).

What it does:
1. Users (admin, officer, two supervisors, an auditor), a zone, a watchlist; K real dataset
   identities enrolled through the real enrolment service (Triton), approved by a supervisor; an
   operation over the zone, requested, authorised and started through the operations service.
2. One 1280x720 CCTV-like JPEG per camera slot, prepared in advance: a frame of a dataset street
   video with the identity's *other* photo pasted at about FACE_PX face width (slot i shows
   identity i % K). Each prepared frame is scored once against the list, so the table can say
   whether one frame is "clear" enough to alert at once or pooling waits for a second frame.
3. For N = 1, 2, 4, ...: N *new* push cameras (all made at setup, before the operation is
   authorised, since coverage is fixed then; a fresh camera/subject pair starts a fresh track
   and a fresh alert) each push one frame a second for --seconds, staggered over the second,
   X-Captured-At = send time; an auditor's WebSocket (city-wide; commissioners hear no alerts)
   records the receive time of every alert event. Events are matched to frames by camera_id and last_seen_at (the capture
   time of the newest frame the alert recorded). Per step: frames sent / accepted (202) / shed
   (429), events, end-to-end p50 / p95 / max, time from a face's first appearance (the camera's
   first frame) to its alert.created, and the per-stage breakdown from the Prometheus histograms
   (fr_stage_seconds, read from the multiprocess folder and diffed over the step). Between steps
   the recognition queue drains. The run stops after the first step whose p95 exceeds 1 s (or that
   had to shed or drop frames for lack of capacity), or at --max-cameras.
4. Per step, CPU per processed frame by part of the stack (psutil over the processes the
   benchmark started): Triton's server and each model's python stub, web, Celery, PostgreSQL,
   Redis; "inside" and "outside" Triton are issue 16's goals.

--strangers shows people who are not on the list (the city's common case: every face is searched
and dropped), so no alert is raised: every step runs and only the CPU table means anything.

Cameras are created with sample_fps --sample-fps (default 1, the rate they push at); the
sampling slot allows 10% of jitter (recognition/intake.py), so on-time frames are not refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH_DIR = ROOT / "var" / "bench" / "live"
DEFAULT_PORTS = {
    "FR_TEST_WEB_PORT": "8720",
    "FR_TEST_PG_PORT": "8723",
    "FR_TEST_REDIS_PORT": "8726",
    "FR_TEST_TRITON_HTTP_PORT": "8730",
    "FR_TEST_TRITON_GRPC_PORT": "8731",
    "FR_TEST_TRITON_METRICS_PORT": "8732",
}
LATENCY_BUDGET_S = 1.0
STAGES = ("queue", "inference", "search", "total")
FACE_PX = 140.0  # face width of the pasted person
BACKGROUND_VIDEO = "facenet_pytorch/examples/video.mp4"
# The same portraits as tests/integration/test_enrolment.py GALLERY: (enrolled photo, other photo).
GALLERY: dict[str, tuple[str, str]] = {
    "angelina": ("deepface/img1.jpg", "deepface/img2.jpg"),
    "deepface_c03": ("deepface/img8.jpg", "deepface/img9.jpg"),
    "john_salley": (
        "dlib/examples/johns/John_Salley/000179_02159509.jpg",
        "dlib/examples/johns/John_Salley/000183_02159543.jpg",
    ),
    "amy": ("face_api_js/examples/images/amy/amy1.png", "face_api_js/examples/images/amy/amy2.png"),
    "sheldon": ("face_api_js/examples/images/sheldon/sheldon1.png", "face_api_js/examples/images/sheldon/sheldon2.png"),
    "obama": (
        "face_recognition/examples/knn_examples/train/obama/obama.jpg",
        "face_recognition/examples/knn_examples/train/obama/obama2.jpg",
    ),
    "daryl": (
        "opencv4nodejs/data/face-recognition/imgs/daryl1.jpg",
        "opencv4nodejs/data/face-recognition/imgs/daryl2.jpg",
    ),
    "rick": (
        "opencv4nodejs/data/face-recognition/imgs/rick1.jpg",
        "opencv4nodejs/data/face-recognition/imgs/rick2.jpg",
    ),
}


# =============================================================================== pure helpers
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's
    default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class FrameSent:
    camera_id: int
    index: int  # 0 = the camera's first frame of the step (the face's first appearance)
    captured_at: float  # Unix seconds, sent as X-Captured-At
    status: int  # HTTP status of the push (0: no answer)


@dataclass(frozen=True)
class EventSeen:
    type: str  # alert.created / alert.updated
    alert_id: int
    camera_id: int
    last_seen_at: float  # Unix seconds
    received_at: float  # Unix seconds, when the WebSocket client read it


def iso_to_unix(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def event_from_message(message: dict[str, Any], received_at: float) -> EventSeen | None:
    """An alert event of /ws/events/, or None for anything else (hello, camera.status, ...)."""
    if not str(message.get("type", "")).startswith("alert."):
        return None
    alert = message.get("alert") or {}
    try:
        return EventSeen(
            type=message["type"],
            alert_id=int(alert["id"]),
            camera_id=int(alert["camera_id"]),
            last_seen_at=iso_to_unix(alert["last_seen_at"]),
            received_at=received_at,
        )
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Matching:
    pairs: list[tuple[FrameSent, EventSeen]]  # one per frame: the first event that reported it
    unmatched_events: int


def match_events(frames: Iterable[FrameSent], events: Iterable[EventSeen], tolerance_s: float = 0.002) -> Matching:
    """Pair each event with the accepted frame of its camera whose capture time is its
    last_seen_at (within `tolerance_s`: the database keeps microseconds). A frame counts once,
    with the earliest event that reported it; events for no known frame are counted."""
    by_camera: dict[int, list[FrameSent]] = {}
    for frame in frames:
        if frame.status == 202:
            by_camera.setdefault(frame.camera_id, []).append(frame)
    first: dict[tuple[int, int], tuple[FrameSent, EventSeen]] = {}
    unmatched = 0
    for event in sorted(events, key=lambda e: e.received_at):
        candidates = by_camera.get(event.camera_id, [])
        best = min(candidates, key=lambda f: abs(f.captured_at - event.last_seen_at), default=None)
        if best is None or abs(best.captured_at - event.last_seen_at) > tolerance_s:
            unmatched += 1
            continue
        first.setdefault((best.camera_id, best.index), (best, event))
    pairs = sorted(first.values(), key=lambda pair: pair[0].captured_at)
    return Matching(pairs=pairs, unmatched_events=unmatched)


@dataclass(frozen=True)
class FirstAlert:
    camera_id: int
    delay_s: float | None  # first frame's capture -> alert.created receipt; None: no alert
    frame_number: int | None  # 1-based number of the frame that raised it (None: unknown)


def first_alerts(frames: Iterable[FrameSent], events: Iterable[EventSeen], matching: Matching) -> list[FirstAlert]:
    """Per camera: from the face's first appearance (the camera's first frame, whatever its push
    answer) to the receipt of its first alert.created."""
    frames = list(frames)
    first_frame: dict[int, FrameSent] = {}
    for frame in frames:
        if frame.camera_id not in first_frame or frame.index < first_frame[frame.camera_id].index:
            first_frame[frame.camera_id] = frame
    created: dict[int, EventSeen] = {}
    for event in sorted(events, key=lambda e: e.received_at):
        if event.type == "alert.created":
            created.setdefault(event.camera_id, event)
    frame_of_event = {id(event): frame for frame, event in matching.pairs}
    result = []
    for camera_id, frame in sorted(first_frame.items()):
        alert = created.get(camera_id)
        if alert is None:
            result.append(FirstAlert(camera_id, None, None))
            continue
        raised_by = frame_of_event.get(id(alert))
        result.append(
            FirstAlert(camera_id, alert.received_at - frame.captured_at, raised_by.index + 1 if raised_by else None)
        )
    return result


@dataclass
class Histogram:
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    total: float = 0.0  # _sum
    count: float = 0.0  # _count

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Like PromQL's histogram_quantile: linear inside the bucket that holds the rank; the
        last finite bound when the rank falls in +Inf. q in 0..1."""
        if not self.count:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        finite = sorted(b for b in self.buckets if math.isfinite(b))
        for bound in finite:
            cumulative = self.buckets[bound]
            if cumulative >= rank:
                inside = cumulative - lower_count
                fraction = (rank - lower_count) / inside if inside else 1.0
                return lower_bound + (bound - lower_bound) * fraction
            lower_bound, lower_count = bound, cumulative
        return finite[-1] if finite else None


Snapshot = dict[str, Any]  # {"stages": {stage: Histogram}, "dropped": {reason: count}}


def snapshot_from_families(families: Iterable[Any]) -> Snapshot:
    """fr_stage_seconds per stage and fr_frames_dropped_total per reason, from collected metric
    families (prometheus_client's Metric objects, or anything with .name and .samples)."""
    stages: dict[str, Histogram] = {}
    dropped: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name.startswith("fr_stage_seconds"):
                histogram = stages.setdefault(labels.get("stage", ""), Histogram())
                if name.endswith("_bucket"):
                    histogram.buckets[float(labels["le"])] = value
                elif name.endswith("_sum"):
                    histogram.total = value
                elif name.endswith("_count"):
                    histogram.count = value
            elif name == "fr_frames_dropped_total":
                dropped[labels.get("reason", "")] = value
    return {"stages": stages, "dropped": dropped}


def snapshot_diff(before: Snapshot, after: Snapshot) -> Snapshot:
    """What was observed between two snapshots (counters only grow within one run)."""
    stages: dict[str, Histogram] = {}
    for stage, now in after["stages"].items():
        then = before["stages"].get(stage, Histogram())
        stages[stage] = Histogram(
            buckets={bound: count - then.buckets.get(bound, 0.0) for bound, count in now.buckets.items()},
            total=now.total - then.total,
            count=now.count - then.count,
        )
    dropped = {
        reason: count - before["dropped"].get(reason, 0.0)
        for reason, count in after["dropped"].items()
        if count - before["dropped"].get(reason, 0.0) > 0
    }
    return {"stages": stages, "dropped": dropped}


@dataclass
class StepResult:
    cameras: int
    sent: int
    accepted: int
    shed: int
    other_status: int
    events: int
    unmatched_events: int
    latencies_s: list[float]
    first: list[FirstAlert]
    stages: dict[str, Histogram]
    dropped: dict[str, float]
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group (step)

    @property
    def frames_processed(self) -> float:
        return self.stages.get("queue", Histogram()).count

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies_s, 95)

    def holds(self) -> bool:
        """p95 within budget, and nothing shed or dropped for lack of capacity (a dropped frame has
        no latency, so a step that drops frames would look faster than it is). A "rate" refusal is
        the sending side's jitter (a push that came more than 10% early for its camera's sampling
        slot, when this process's event loop was late), not the system's capacity: it is shown,
        and does not end the run."""
        p95 = self.p95
        capacity_drops = {reason: n for reason, n in self.dropped.items() if reason != "rate" and n}
        return p95 is not None and p95 <= LATENCY_BUDGET_S and not capacity_drops


TRITON_GROUPS = ("triton server", "triton face_pipeline", "triton face_detector", "triton face_embedder")
OUTSIDE_GROUPS = ("web", "celery", "postgres", "redis")


def process_group(name: str, cmdline: Sequence[str]) -> str:
    """Which part of the stack a process is (the CPU table's rows)."""
    text = " ".join(cmdline)
    if "triton_python_backend_stub" in text or "triton_python_backend_stub" in name:
        for model in ("face_pipeline", "face_detector", "face_embedder"):
            if f"/{model}/" in text:
                return f"triton {model}"
        return "triton other"
    if "tritonserver" in name or "tritonserver" in text:
        return "triton server"
    if "celery" in text:
        return "celery"
    if "daphne" in text:
        return "web"
    if name.startswith("postgres") or "postgres" in text.split(" ")[0]:
        return "postgres"
    if "valkey" in name or "redis" in name:
        return "redis"
    return "other"


def process_cpu() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process this benchmark started, by group.
    Process CPU time is what the machine's other load does not inflate much (unlike wall time)."""
    import psutil

    totals: dict[str, float] = {}
    for process in psutil.Process().children(recursive=True):
        try:
            group = process_group(process.name(), process.cmdline())
            times = process.cpu_times()
        except psutil.Error:
            continue
        totals[group] = totals.get(group, 0.0) + times.user + times.system
    return totals


def cpu_diff(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {group: max(0.0, after.get(group, 0.0) - before.get(group, 0.0)) for group in after}


def render_cpu(results: Sequence[StepResult]) -> str:
    """CPU ms per processed frame, by part of the stack (issue 16's goals: outside Triton <= 10 ms,
    inside Triton on CPU <= 60 ms per 720p frame)."""
    groups = [
        g for g in (*TRITON_GROUPS, "triton other", *OUTSIDE_GROUPS, "other") if any(g in r.cpu_s for r in results)
    ]
    lines = [
        "CPU per processed frame, ms (process CPU time of the stack's processes over the step / frames processed):",
        "",
        "| N cams | frames | " + " | ".join(groups) + " | inside Triton | outside Triton |",
        "|---:|---:|" + "---:|" * (len(groups) + 2),
    ]
    for r in results:
        frames = r.frames_processed
        if not frames:
            continue
        cells = [f"{r.cpu_s.get(g, 0.0) * 1000 / frames:.1f}" for g in groups]
        inside = sum(v for g, v in r.cpu_s.items() if g.startswith("triton")) * 1000 / frames
        outside = sum(r.cpu_s.get(g, 0.0) for g in OUTSIDE_GROUPS) * 1000 / frames
        lines.append(f"| {r.cameras} | {frames:.0f} | " + " | ".join(cells) + f" | {inside:.1f} | {outside:.1f} |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def render_tables(results: Sequence[StepResult]) -> str:
    lines = [
        "| N cams | sent | 202 | 429 | events | e2e p50 ms | e2e p95 ms | e2e max ms "
        "| first seen -> alert p50 / max ms | alerted on frame 1 / later / never | dropped |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        delays = [f.delay_s for f in r.first if f.delay_s is not None]
        on_first = sum(1 for f in r.first if f.frame_number == 1)
        never = sum(1 for f in r.first if f.delay_s is None)
        later = len(r.first) - on_first - never
        dropped = ", ".join(f"{reason} {count:.0f}" for reason, count in sorted(r.dropped.items())) or "0"
        lines.append(
            f"| {r.cameras} | {r.sent} | {r.accepted} | {r.shed} | {r.events} | {_ms(percentile(r.latencies_s, 50))} "
            f"| {_ms(r.p95)} | {_ms(max(r.latencies_s, default=None))} "
            f"| {_ms(percentile(delays, 50))} / {_ms(max(delays, default=None))} "
            f"| {on_first} / {later} / {never} | {dropped} |"
        )
    lines += [
        "",
        "Per stage, ms (mean / p95 from the histogram buckets; queue = capture -> task start, "
        "total = capture -> commit; e2e adds the broadcast to the browser):",
        "",
        "| N cams | frames | " + " | ".join(STAGES) + " |",
        "|---:|---:|" + "---|" * len(STAGES),
    ]
    for r in results:
        cells = []
        for stage in STAGES:
            histogram = r.stages.get(stage, Histogram())
            cells.append(f"{_ms(histogram.mean)} / {_ms(histogram.quantile(0.95))}")
        frames = r.stages.get("queue", Histogram()).count
        lines.append(f"| {r.cameras} | {frames:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def largest_holding(results: Sequence[StepResult]) -> int | None:
    best = None
    for result in results:
        if not result.holds():
            break
        best = result.cameras
    return best


def camera_counts(max_cameras: int) -> list[int]:
    """1, 2, 4, ... up to max_cameras (included even when not a power of two)."""
    counts, n = [], 1
    while n < max_cameras:
        counts.append(n)
        n *= 2
    return [*counts, max_cameras]


def machine_line() -> str:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or platform.machine()}), {platform.system()} {platform.release()}"


# =============================================================================== the run
def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@dataclass
class World:
    """What the setup made: people, places and the prepared frames."""

    admin: Any
    zone: Any
    watchlist: Any
    cookie: str
    frames: list[bytes]  # one JPEG per camera slot
    identities: list[str]  # per slot: the identity shown


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        for name, port in DEFAULT_PORTS.items():
            os.environ.setdefault(name, port)
        os.environ.setdefault("FR_TEST_DATA_DIR", str(BENCH_DIR))
        for name in ("DATABASE_URL", "REDIS_URL", "TRITON_URL"):  # self-contained: its own services
            os.environ.pop(name, None)
        from backend.devstack.config import load_config
        from backend.devstack.stack import Stack

        self.config = load_config("test")
        self.stack = Stack(self.config)
        self.metrics_dir = self.config.data_dir / "prometheus"
        self.base_url = f"http://127.0.0.1:{self.config.web_port}"
        self.camera_serial = 0
        self.camera_pool: list[tuple[Any, str]] = []
        self.django_ready = False

    # --- stack ------------------------------------------------------------------------------
    def start(self) -> None:
        from backend.devstack import services

        self.stack.check_ports(include_web=True)
        self.stack.start_infrastructure()
        self._fresh_database()
        self._fresh_redis()
        say("applying migrations ...")
        self.stack.manage("migrate", "--noinput")
        os.environ.update(self.stack.env)  # this process: setup through the services (no metrics dir)
        import django

        django.setup()
        self.django_ready = True
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        env = {**self.stack.env, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}
        for number in range(self.args.workers):
            self.stack.start_process(services.celery_worker_process(self.config, env, name=f"bench{number + 1}"))
        self.stack.start_process(services.web_process(self.config, env, self.config.web_port))

    def _fresh_database(self) -> None:
        import psycopg

        from backend.devstack import services

        password = services.secret(self.config, "postgres_password")
        name = self.config.database_name
        with psycopg.connect(
            host="127.0.0.1",
            port=self.config.pg_port,
            user="postgres",
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        services.postgres_ensure_database(self.config, password, name)

    def _fresh_redis(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.config.redis_port)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.django_ready:
            from django.db import connections

            connections.close_all()
        self.stack.stop_all()

    # --- setup -----------------------------------------------------------------------------
    def setup(self) -> World:
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        from backend.accounts.roles import Role
        from backend.accounts.services import user_create
        from backend.cameras.services import zone_create
        from backend.operations import services as operations
        from backend.watchlists import services as watchlists
        from backend.watchlists.models import Watchlist

        password = "bench-" + os.urandom(12).hex()
        zone = zone_create(code="bench", name="Benchmark zone", centre_lat=18.5286, centre_lon=73.8743)
        people = {
            role: user_create(username=f"bench-{role.value}", password=password, role=role, zones=[zone])
            for role in (Role.ADMIN, Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR)
        }
        approver = user_create(username="bench-approver", password=password, role=Role.SUPERVISOR, zones=[zone])
        officer, supervisor = people[Role.OFFICER], people[Role.SUPERVISOR]
        watchlist = watchlists.watchlist_create(
            actor=supervisor, zone=zone, name="Benchmark list", category=Watchlist.Category.WANTED, priority=2
        )
        datasets = Path(settings.DATASETS_DIR)
        names = list(GALLERY)[: self.args.identities]
        # --strangers: the frames show people who are not on the list (the common case in a city:
        # every face is searched and dropped), so no alert is raised and only CPU is measured.
        enrolled_names = names[: len(names) // 2] if self.args.strangers else names
        shown_names = names[len(names) // 2 :] if self.args.strangers else names
        subjects = {}
        for name in enrolled_names:
            enrolled, _ = GALLERY[name]
            subject = watchlists.subject_create(
                actor=officer,
                watchlist=watchlist,
                full_name=f"{name} (benchmark)",
                legal_basis="Benchmark of the live pipeline; dataset identity",
                expires_at=timezone.now() + timedelta(days=7),
            )
            watchlists.subject_photo_add(
                subject=subject, data=(datasets / enrolled).read_bytes(), actor=officer, source="benchmark"
            )
            subjects[name] = watchlists.subject_approve(subject=subject, actor=approver)
        say(f"enrolled {len(subjects)} identities (threshold {watchlist.match_threshold})")
        now = timezone.now()
        operation = operations.operation_request(
            actor=officer,
            name="Latency benchmark",
            purpose="Measure end-to-end alert latency",
            authority_reference="Benchmark 1/2026",
            watchlists=[watchlist],
            zones=[zone],
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(days=1),
        )
        pool_size = 1 + sum(camera_counts(self.args.max_cameras))  # the warm-up's camera and every step's
        self.camera_pool = self._camera_pool_make(people[Role.ADMIN], zone, pool_size)
        operations.operation_authorise(operation=operation, actor=supervisor)
        operations.operation_start(operation=operation, actor=supervisor)
        frames, shown = self._prepare_frames(datasets, shown_names, watchlist)
        return World(
            admin=people[Role.ADMIN],
            zone=zone,
            watchlist=watchlist,
            cookie=_session_cookie(people[Role.AUDITOR]),
            frames=frames,
            identities=shown,
        )

    def _prepare_frames(self, datasets: Path, names: list[str], watchlist: Any) -> tuple[list[bytes], list[str]]:
        """One JPEG per camera slot (slot i shows identity i % K), each scored once against the list."""
        import cv2

        from backend.demo.compose import DemoIdentity, background_frames, cutout, face_paste
        from backend.faces.inference_client import get_client
        from backend.watchlists.search import template_search

        client = get_client()
        backgrounds = background_frames(datasets / BACKGROUND_VIDEO, fps=1.0)
        cuts = {}
        for name in names:
            photo = GALLERY[name][1]
            faces = client.detect_and_embed((datasets / photo).read_bytes())
            if not faces:
                raise RuntimeError(f"no face found on {photo}")
            box = tuple(float(v) for v in faces[0].box)
            cuts[name] = cutout(datasets, DemoIdentity(f"bench:{name}", name, enrol=None, paste=photo, paste_box=box))  # type: ignore[arg-type]
        frames, shown, report = [], [], {}
        width, height = 1280, 720
        for slot in range(self.args.max_cameras):
            name = names[slot % len(names)]
            image = backgrounds[slot % len(backgrounds)].copy()
            x = width * (0.25 + 0.5 * ((slot * 7) % 11) / 10)
            y = height * (0.4 + 0.15 * ((slot * 3) % 5) / 4)
            face_paste(image, cuts[name], x, y, FACE_PX)
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            frames.append(encoded.tobytes())
            shown.append(name)
            if name not in report:
                report[name] = self._score(client, template_search, frames[-1], watchlist)
        for name, line in report.items():
            say(f"frame of {name}: {line}")
        say(f"prepared {len(frames)} frames of 1280x720, {sum(map(len, frames)) // len(frames) // 1024} KiB each")
        return frames, shown

    @staticmethod
    def _score(client: Any, search: Any, jpeg: bytes, watchlist: Any) -> str:
        from django.conf import settings

        faces = [f for f in client.detect_and_embed(jpeg) if f.template is not None and f.passed_quality]
        if not faces:
            return "no face passes the quality gate: never alerts"
        face = max(faces, key=lambda f: f.box[2] - f.box[0])  # the pasted person (CCTV passers-by are smaller)
        result = search(embedding=face.template, model_version=face.model_version, watchlists=[watchlist], k=1)
        best = result.candidates[0]
        margin = settings.TRACK_SINGLE_FRAME_MARGIN
        if best.score >= best.threshold + margin:
            verdict = "clear: alerts on its first frame"
        elif best.score >= best.threshold:
            verdict = "above threshold but not clear: alerts on its second frame (pooling)"
        else:
            verdict = "below threshold: never alerts"
        width = face.box[2] - face.box[0]
        return f"face {width:.0f} px, best {best.subject_name!r} score {best.score:.3f} (threshold {best.threshold}) -> {verdict}"

    def cameras_make(self, world: World, count: int) -> list[tuple[Any, str]]:
        """`count` cameras no step has used (a fresh camera/subject pair starts a fresh track)."""
        made, self.camera_pool = self.camera_pool[:count], self.camera_pool[count:]
        if len(made) < count:
            raise RuntimeError("the camera pool made at setup is used up")
        return made

    def _camera_pool_make(self, admin: Any, zone: Any, count: int) -> list[tuple[Any, str]]:
        """Every camera of the run, made before the operation is authorised: an operation covers
        the cameras it covered at authorisation, never ones added later (issue 18, finding 14)."""
        from backend.cameras.models import Camera
        from backend.cameras.services import camera_create, camera_push_token_rotate

        made = []
        for slot in range(count):
            self.camera_serial += 1
            camera = camera_create(
                actor=admin,
                code=f"bench-{self.camera_serial}",
                name=f"Benchmark camera {self.camera_serial}",
                zone=zone,
                latitude=zone.centre_lat + 0.0005 * (slot % 10),
                longitude=zone.centre_lon + 0.0005 * (slot // 10),
                stream_kind=Camera.StreamKind.PUSH,
                sample_fps=self.args.sample_fps,
            )
            made.append((camera, camera_push_token_rotate(camera=camera, actor=admin)))
        return made

    # --- measuring -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.metrics_dir))  # type: ignore[no-untyped-call]
        return snapshot_from_families(registry.collect())

    def backlog(self) -> int:
        """Frames queued or taken by a worker but not yet acknowledged."""
        import redis
        from django.conf import settings

        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)
        try:
            return int(broker.llen(settings.RECOGNITION_QUEUE)) + int(broker.hlen("unacked"))
        finally:
            broker.close()

    def step(self, world: World, count: int, seconds: int, *, report: bool = True) -> StepResult:
        cameras = self.cameras_make(world, count)
        before, cpu_before = self.snapshot(), process_cpu()
        frames, events = asyncio.run(self._step_io(world, cameras, seconds))
        after, cpu_after = self.snapshot(), process_cpu()
        ours = {camera.pk for camera, _ in cameras}
        events = [event for event in events if event.camera_id in ours]
        matching = match_events(frames, events)
        diff = snapshot_diff(before, after)
        result = StepResult(
            cameras=count,
            sent=len(frames),
            accepted=sum(1 for f in frames if f.status == 202),
            shed=sum(1 for f in frames if f.status == 429),
            other_status=sum(1 for f in frames if f.status not in (202, 429)),
            events=len(events),
            unmatched_events=matching.unmatched_events,
            latencies_s=[event.received_at - frame.captured_at for frame, event in matching.pairs],
            first=first_alerts(frames, events, matching),
            stages=diff["stages"],
            dropped=diff["dropped"],
            cpu_s=cpu_diff(cpu_before, cpu_after),
        )
        if report:
            say(
                f"N={count}: sent {result.sent}, 202 {result.accepted}, 429 {result.shed}, other {result.other_status}, "
                f"events {result.events} (unmatched {result.unmatched_events}), "
                f"p50 {_ms(percentile(result.latencies_s, 50))} ms, p95 {_ms(result.p95)} ms"
            )
        return result

    async def _step_io(
        self, world: World, cameras: list[tuple[Any, str]], seconds: int
    ) -> tuple[list[FrameSent], list[EventSeen]]:
        import aiohttp

        events: list[EventSeen] = []
        ready, stop = asyncio.Event(), asyncio.Event()
        listener = asyncio.create_task(self._listen(world.cookie, events, ready, stop))
        await asyncio.wait_for(ready.wait(), timeout=20)
        await asyncio.sleep(0.3)  # the socket joined its group
        frames: list[FrameSent] = []
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
            start = time.time() + 0.2
            await asyncio.gather(
                *(
                    self._push_camera(
                        session, camera, key, world.frames[slot], start + slot / len(cameras), seconds, frames
                    )
                    for slot, (camera, key) in enumerate(cameras)
                )
            )
        await self._drain()
        await asyncio.sleep(1.5)  # the last broadcasts
        stop.set()
        await listener
        return frames, events

    async def _push_camera(
        self, session: Any, camera: Any, key: str, jpeg: bytes, first_at: float, seconds: int, out: list[FrameSent]
    ) -> None:
        url = f"{self.base_url}/api/v1/cameras/{camera.pk}/frames"

        async def push(index: int) -> None:
            captured_at = time.time()
            headers = {
                "Authorization": f"Bearer {key}",
                "Content-Type": "image/jpeg",
                "X-Captured-At": repr(captured_at),
            }
            status = 0
            try:
                async with session.post(url, data=jpeg, headers=headers) as response:
                    status = response.status
                    await response.read()
            except (TimeoutError, OSError) as error:
                say(f"push to camera {camera.pk} failed: {error!r}")
            out.append(FrameSent(camera.pk, index, captured_at, status))

        pushes = []
        for index in range(seconds):
            await asyncio.sleep(max(0.0, first_at + index - time.time()))
            pushes.append(asyncio.create_task(push(index)))
        await asyncio.gather(*pushes)

    async def _listen(self, cookie: str, out: list[EventSeen], ready: asyncio.Event, stop: asyncio.Event) -> None:
        import aiohttp

        url = self.base_url.replace("http://", "ws://") + "/ws/events/"
        headers = {"Cookie": cookie, "Origin": self.base_url}
        async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as socket:
            hello = await socket.receive_json(timeout=20)
            if hello.get("type") != "hello":
                raise RuntimeError(f"unexpected first WebSocket message {hello!r}")
            ready.set()
            while not stop.is_set():
                try:
                    message = await socket.receive(timeout=0.25)
                except TimeoutError:
                    continue
                received_at = time.time()
                if message.type != aiohttp.WSMsgType.TEXT:
                    if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        raise RuntimeError("the WebSocket closed during the step")
                    continue
                event = event_from_message(json.loads(message.data), received_at)
                if event is not None:
                    out.append(event)

    async def _drain(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.backlog() == 0:
                return
            await asyncio.sleep(0.25)
        say(f"the recognition queue did not drain within {timeout_s:.0f} s")


def _session_cookie(user: Any) -> str:
    """A session of a user who passed the second factor (as tests/otp_helpers.login_verified)."""
    from django.conf import settings
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="benchmark", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-cameras", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=20, help="seconds each step pushes (one frame a second)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (concurrency 2 each)")
    parser.add_argument("--identities", type=int, default=8, help=f"enrolled identities (at most {len(GALLERY)})")
    parser.add_argument("--sample-fps", type=float, default=1.0, help="sampling rate of the benchmark cameras")
    parser.add_argument("--warmup-seconds", type=int, default=4)
    parser.add_argument(
        "--strangers",
        action="store_true",
        help="frames show people not on the list (half the identities are enrolled, the others shown): "
        "no alert, CPU per frame of the common path; every step runs (none can 'hold' without alerts)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.identities <= len(GALLERY) or args.max_cameras < 1 or args.seconds < 1 or args.workers < 1:
        parser.error("--identities 1-8; --max-cameras, --seconds and --workers at least 1")
    if args.strangers and args.identities < 2:
        parser.error("--strangers needs at least 2 identities (half enrolled, half shown)")

    # Both explicitly: a process started in the background of a script inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    bench = Bench(args)
    results: list[StepResult] = []
    try:
        bench.start()
        world = bench.setup()
        say(f"warm-up: one camera for {args.warmup_seconds} s (not reported)")
        bench.step(world, 1, args.warmup_seconds, report=False)
        for count in camera_counts(args.max_cameras):
            result = bench.step(world, count, args.seconds)
            results.append(result)
            if not result.holds() and not args.strangers:
                break
    except KeyboardInterrupt:
        say("interrupted, stopping ...")
        return 130
    finally:
        bench.stop()
    print()
    print(render_tables(results))
    print()
    print(render_cpu(results))
    print()
    holding = largest_holding(results)
    print(
        f"Largest N with p95 <= {LATENCY_BUDGET_S * 1000:.0f} ms (and nothing shed or dropped): "
        f"{holding if holding is not None else 'none'}"
    )
    print(
        f"Machine: {machine_line()}; {args.workers} Celery worker process(es) x concurrency 2; "
        f"{args.seconds} s per step; cameras at 1 fps, sampled at {args.sample_fps} fps; "
        f"{args.identities} enrolled identities; Triton as inference/launch.py starts it here."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
