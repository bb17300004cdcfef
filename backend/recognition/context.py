"""What a frame of a camera is searched against: the camera, its active operations and their
active watchlists, cached per worker process so that a frame costs no ORM query for state that
changes a few times a day.

Before this cache every frame ran three queries (the camera, its active operations, their
watchlists) while the rest of the frame's work is in Triton; at city scale (2,880 cameras at
1 fps) that is ~8,600 queries a second for answers that almost never change.

Invalidation, so that ending an operation or disabling a camera still stops recognition at once:
- a generation counter in the live-state Redis for everything (operations, their coverage and
  watchlists, watchlists themselves) and one per camera (a camera's own row). Saving any of them
  bumps the counter *after the transaction commits* (signals in apps.py), and every frame reads
  the two counters with one MGET (~0.1 ms) and recomputes its context when either moved;
- the clock: an entry never lives past the end of the earliest active operation's window, nor
  past the start of the next started operation that covers the camera (operations start and end
  by the clock without any row being saved);
- a lifetime cap of CONTEXT_MAX_AGE_S for changes made without signals (queryset updates).
When Redis cannot be read the context is recomputed from the database: correctness first."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from backend.cameras.models import Camera
from backend.core.live_state import live_redis
from backend.operations.models import Operation
from backend.operations.selectors import operation_covers_q, operations_active_for_camera
from backend.watchlists.models import Watchlist

logger = logging.getLogger(__name__)

CONTEXT_MAX_AGE_S = 60.0  # for changes no signal announces (bulk updates)
GLOBAL_GENERATION_KEY = "recognition:context-generation"
_CAMERA_GENERATION_KEY = "recognition:context-generation:camera:{}"


@dataclass(frozen=True)
class CameraContext:
    camera: Camera | None  # None: no such camera, or disabled
    operations: tuple[Operation, ...]
    watchlists: tuple[Watchlist, ...]
    next_start_at: float | None = None  # Unix time an operation covering it starts by the clock

    @property
    def searchable(self) -> bool:
        return self.camera is not None and bool(self.watchlists)

    def operation_for(self, watchlist_id: int) -> Operation:
        """The first (oldest) operation that searches this watchlist: the alert records it."""
        return next(op for op in self.operations if any(w.pk == watchlist_id for w in op.watchlists.all()))


@dataclass
class _Entry:
    generations: tuple[bytes | str | None, bytes | str | None]
    context: CameraContext
    expires_at: float  # time.time()


_entries: dict[int, _Entry] = {}
_lock = threading.Lock()  # Celery's thread pool or the benchmark may share a process


def camera_key(camera_id: int) -> str:
    return _CAMERA_GENERATION_KEY.format(camera_id)


def camera_context(camera_id: int) -> CameraContext:
    """The camera's recognition context, from the process cache when still current."""
    generations = _generations(camera_id)
    now = time.time()
    with _lock:
        entry = _entries.get(camera_id)
    if entry is not None and generations is not None and entry.generations == generations and now < entry.expires_at:
        return entry.context
    context = context_load(camera_id)
    if generations is not None:  # without Redis nothing is cached: the next frame asks again
        with _lock:
            _entries[camera_id] = _Entry(generations, context, _expiry(context, now))
    return context


def context_load(camera_id: int) -> CameraContext:
    """The context straight from the database (four queries)."""
    camera = Camera.objects.select_related("zone").filter(pk=camera_id, enabled=True).first()
    if camera is None:
        return CameraContext(None, (), ())
    now = timezone.now()
    operations = tuple(operations_active_for_camera(camera=camera, at=now))
    upcoming = (
        Operation.objects.filter(status=Operation.Status.ACTIVE, starts_at__gt=now)
        .filter(operation_covers_q(camera))
        .aggregate(first=Min("starts_at"))["first"]
    )
    seen: dict[int, Watchlist] = {}
    for operation in operations:
        for watchlist in operation.watchlists.all():
            if watchlist.active:
                seen.setdefault(watchlist.pk, watchlist)
    next_start_at = upcoming.timestamp() if upcoming is not None else None
    return CameraContext(camera, operations, tuple(seen.values()), next_start_at)


def context_invalidate(camera_id: int | None = None) -> None:
    """Make every process recompute: one camera's context, or (None) all of them. Called on commit
    of a change (apps.py); a failure is logged, and the lifetime cap bounds how long it matters."""
    try:
        live_redis().incr(camera_key(camera_id) if camera_id is not None else GLOBAL_GENERATION_KEY)
    except Exception:
        logger.warning("recognition context: cannot bump the generation in Redis", exc_info=True)


def context_cache_clear() -> None:
    """Forget this process's entries (tests)."""
    with _lock:
        _entries.clear()


def _generations(camera_id: int) -> tuple[bytes | str | None, bytes | str | None] | None:
    try:
        values = live_redis().mget([GLOBAL_GENERATION_KEY, camera_key(camera_id)])
    except Exception:
        logger.warning("recognition context: Redis unreadable, reading the database", exc_info=True)
        return None
    return (values[0], values[1])


def _expiry(context: CameraContext, now: float) -> float:
    expires_at = now + CONTEXT_MAX_AGE_S
    if context.next_start_at is not None:
        expires_at = min(expires_at, context.next_start_at)
    for operation in context.operations:
        expires_at = min(expires_at, operation.ends_at.timestamp())
    return expires_at
