"""Prometheus metrics of the live pipeline, in one place so every process names them alike.

Web, Celery workers and ingest workers are separate processes. When PROMETHEUS_MULTIPROC_DIR is
set (the devstack sets it; in production point it at a per-host tmpfs folder that is emptied at
boot), each process writes its samples there and `/metrics` of the web process aggregates them.
Without it, each process counts in memory (unit tests)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# Stage latencies are short (milliseconds to a few seconds).
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)

FRAMES_IN = Counter("fr_frames_in_total", "Frames offered by cameras (before sampling and shedding).", ["source"])
FRAMES_ACCEPTED = Counter("fr_frames_accepted_total", "Frames queued for recognition.", ["source"])
# reason: rate (faster than the camera's fps), backlog (queue full), too_large, stale (waited too
# long), expired (gone from Redis before a worker took it), no_operation, triton_error,
# corrupt (not an image), worker_lost (counted by the redelivered task when its frame is gone).
FRAMES_DROPPED = Counter("fr_frames_dropped_total", "Frames dropped, by reason.", ["reason"])
FACES_DETECTED = Counter("fr_faces_detected_total", "Faces found in processed frames.")
FACES_BELOW_QUALITY = Counter("fr_faces_below_quality_total", "Faces below the quality gate or the camera's size.")
SEARCHES = Counter("fr_searches_total", "1:N searches run.")
FACES_UNMATCHED = Counter("fr_faces_unmatched_total", "Faces that matched nobody (dropped at once).")
MATCHES = Counter("fr_matches_total", "Faces above a watchlist threshold (before pooling).")
ALERTS = Counter("fr_alerts_total", "Alerts raised, by watchlist priority.", ["priority"])
SIGHTINGS = Counter("fr_sightings_total", "Sightings recorded (alerts raised or extended).")
TRITON_ERRORS = Counter("fr_triton_errors_total", "Inference calls that failed, by kind.", ["kind"])
STAGE_SECONDS = Histogram(
    "fr_stage_seconds",
    "Seconds spent per pipeline stage (queue: capture to task start; total: capture to commit).",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
# 1 while this process's inference circuit breaker is open or half open (the worst live process
# counts: one worker cut off from Triton is enough to alert on).
INFERENCE_BREAKER_OPEN = Gauge(
    "fr_inference_breaker_open",
    "1 while the inference circuit breaker is not closed (max over live processes).",
    multiprocess_mode="livemax",
)
# State read at scrape time (cameras by health, queue length, last checkpoint, disk): collectors
# that apps register at start-up (AppConfig.ready), rendered by the web process only.
STATE_REGISTRY = CollectorRegistry(auto_describe=False)


def metrics_render() -> bytes:
    """The text exposition of every metric (aggregated over processes in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry) + generate_latest(STATE_REGISTRY)
    return generate_latest() + generate_latest(STATE_REGISTRY)
