"""How fast recognition is finishing frames right now, so intake can refuse a frame at the door
(429 to a pushing camera, a counted drop for ingest) when it would only go stale in the queue.

Every processed frame adds one to a per-second counter in the live-state Redis (one pipelined
INCR + EXPIRE); intake reads the last WINDOW_S whole seconds (one MGET). A frame offered when
`backlog / throughput` says it would wait longer than SHED_WAIT_FRACTION of FRAME_MAX_AGE_S is
refused: it would be dropped as stale later anyway, after costing a Redis write, a queue slot and
a worker's time to find out. At low load throughput follows arrivals, not capacity, so the
prediction is used only once MIN_BACKLOG frames wait (a short queue drains in well under a
second whatever the measured rate)."""

from __future__ import annotations

import time

import redis

WINDOW_S = 5
SHED_WAIT_FRACTION = 0.75
MIN_BACKLOG = 8
_KEY = "recognition:done:{}"


def frame_done_count(store: redis.Redis, *, now: float | None = None) -> None:
    key = _KEY.format(int(now if now is not None else time.time()))
    pipe = store.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, WINDOW_S + 2)
    pipe.execute()


def throughput(store: redis.Redis, *, now: float | None = None) -> float:
    """Frames finished per second over the last WINDOW_S whole seconds (0.0 when none)."""
    second = int(now if now is not None else time.time())
    counts = store.mget([_KEY.format(s) for s in range(second - WINDOW_S, second)])
    return sum(int(count) for count in counts if count) / WINDOW_S


def wait_predicted_s(*, backlog: int, rate: float) -> float | None:
    """How long a frame queued now would wait, or None when there is nothing to go by: a short
    queue, or no frame finished lately (idle until now, or every worker away: the fixed
    FRAME_MAX_QUEUE bound and the stale check still hold then)."""
    if backlog < MIN_BACKLOG or rate <= 0:
        return None
    return backlog / rate


def door_refuses(store: redis.Redis, *, backlog: int, max_age_s: float) -> bool:
    """Whether intake refuses a frame offered now. Throughput is read only when the queue is long
    enough for the prediction to count: a frame offered to a short queue costs no extra round trip."""
    if backlog < MIN_BACKLOG:
        return False
    return should_shed(backlog=backlog, rate=throughput(store), max_age_s=max_age_s)


def should_shed(*, backlog: int, rate: float, max_age_s: float) -> bool:
    wait = wait_predicted_s(backlog=backlog, rate=rate)
    return wait is not None and wait > SHED_WAIT_FRACTION * max_age_s
