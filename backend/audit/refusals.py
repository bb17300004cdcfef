"""Refusals (a wrong camera push token, a failed login) recorded without letting anyone flood the
audit chain.

A refusal costs its sender one request and the platform one audit event, which takes the chain's
lock; unbounded, anyone could grow the chain and slow every audited action at will. So refusals
are recorded in detail only within a budget per minute, and counted beyond it:

- per source (the client's address): AUDIT_REFUSALS_PER_SOURCE detailed events a minute per kind
  of refusal (`camera.push_refused`, `auth.login_failed`), so one sender cannot use the budget up;
- per kind, all sources together: AUDIT_REFUSALS_PER_MINUTE, so many senders cannot either;
- `once_per_key`: a kind may also keep one detailed event per key (a camera id) a minute.

Nothing is dropped unseen: what was only counted is recorded after its minute as one summary event
`audit.refusals_summary` (the kind, the minute, how many refusals, how many recorded in detail,
the most frequent keys and sources with their counts). The summary is written by the next refusal
after that minute, or by the checkpoint task (every few minutes), whichever comes first.

Counters live in the live-state Redis with a TTL; if Redis is away the refusal is recorded in
detail (the record is preferred to the bound)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest

from backend.core.live_state import live_redis
from backend.zones.models import Zone

from .services import audit_record, audit_record_system

logger = logging.getLogger(__name__)

WINDOW_S = 60
KEEP_S = 24 * 3600  # counters of a window nobody summarised (no refusal, no task) expire after a day
TOP_KEYS = 20
TRACKED_KEYS_MAX = 500  # distinct keys counted one by one per window; the rest as "(others)"
PENDING = "audit-refusals:pending"
SUMMARY_ACTION = "audit.refusals_summary"


def _budget(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _prefix(action: str, window: int) -> str:
    return f"audit-refusals:{action}:{window}"


def audit_refusal(
    *,
    action: str,
    key: str,
    request: HttpRequest | Any = None,
    object_type: str = "",
    object_id: str | int = "",
    zone: Zone | None = None,
    summary: Mapping[str, Any] | None = None,
    once_per_key: bool = False,
    now: float | None = None,
) -> bool:
    """Record one refusal: in detail (an `action` event) while within the budgets, else counted for
    the minute's summary. Returns whether it was recorded in detail."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    source = _source(request)
    try:
        refusals_summarise(before_window=window)
        detailed = _within_budget(action, window, key=key, source=source, once_per_key=once_per_key)
    except redis.RedisError:
        logger.warning("refusal counters unavailable; %s recorded in detail", action)
        detailed = True
    if detailed:
        common: dict[str, Any] = {
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "zone": zone,
            "summary": summary,
        }
        if request is None:
            audit_record_system(**common)
        else:
            audit_record(request=request, **common)
    return detailed


def _source(request: Any) -> str:
    if request is None:
        return "system"
    meta = getattr(getattr(request, "_request", request), "META", {})
    return str(meta.get("REMOTE_ADDR") or "unknown")[:64]


def _within_budget(action: str, window: int, *, key: str, source: str, once_per_key: bool) -> bool:
    prefix = _prefix(action, window)
    store = live_redis()
    with store.pipeline() as pipe:
        pipe.incr(f"{prefix}:total")
        pipe.hincrby(f"{prefix}:sources", source, 1)
        pipe.hincrby(f"{prefix}:keys", key, 1)
        pipe.hlen(f"{prefix}:keys")
        for name in ("total", "sources", "keys", "detailed"):
            pipe.expire(f"{prefix}:{name}", KEEP_S)
        _total, from_source, for_key, distinct, *_ = pipe.execute()
    if distinct > TRACKED_KEYS_MAX and for_key == 1:
        # Bound the per-window hash: a flood of new keys is counted under one name.
        store.hdel(f"{prefix}:keys", key)
        store.hincrby(f"{prefix}:keys", "(others)", 1)
    detailed = from_source <= _budget("AUDIT_REFUSALS_PER_SOURCE", 10) and not (once_per_key and for_key > 1)
    # The per-minute budget counts detailed events only: one source's flood (already counted
    # only) must not use up the budget of everyone else.
    if detailed and store.incr(f"{prefix}:detailed") > _budget("AUDIT_REFUSALS_PER_MINUTE", 60):
        store.decr(f"{prefix}:detailed")
        detailed = False
    if not detailed:
        store.sadd(PENDING, f"{action}|{window}")
        store.expire(PENDING, KEEP_S)
    return detailed


def refusals_summarise(*, before_window: int | None = None) -> int:
    """Write the summary event of every finished minute that had refusals only counted (the
    current minute is left to finish). Each minute is summarised once, by whichever process
    takes it from the pending set first. Returns the number of summaries written."""
    before_window = int(time.time() // WINDOW_S) if before_window is None else before_window
    store = live_redis()
    written = 0
    for member in sorted(store.smembers(PENDING)):
        text = _text(member)
        action, _, window_text = text.rpartition("|")
        if int(window_text) >= before_window or not store.srem(PENDING, member):
            continue
        _summary_write(action, int(window_text))
        written += 1
    return written


def _summary_write(action: str, window: int) -> None:
    prefix = _prefix(action, window)
    store = live_redis()
    total = int(store.get(f"{prefix}:total") or 0)
    detailed = int(store.get(f"{prefix}:detailed") or 0)
    start = dt.datetime.fromtimestamp(window * WINDOW_S, tz=dt.UTC)
    audit_record_system(
        action=SUMMARY_ACTION,
        object_type="refusals",
        object_id=action,
        summary={
            "refused_action": action,
            "window_start": start.isoformat(),
            "window_s": WINDOW_S,
            "refused": total,
            "recorded_in_detail": detailed,
            "counted_only": total - detailed,
            "top_keys": _top(store.hgetall(f"{prefix}:keys")),
            "distinct_keys": int(store.hlen(f"{prefix}:keys")),
            "top_sources": _top(store.hgetall(f"{prefix}:sources")),
            "distinct_sources": int(store.hlen(f"{prefix}:sources")),
        },
    )
    store.delete(*(f"{prefix}:{name}" for name in ("total", "sources", "keys", "detailed")))


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _top(counts: Mapping[bytes | str, bytes | str]) -> dict[str, int]:
    ranked = sorted(((_text(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked[:TOP_KEYS])
