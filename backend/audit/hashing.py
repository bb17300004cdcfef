"""The canonical encoding of an audit event and its hash.

The encoding is JSON with sorted keys, no insignificant whitespace, UTF-8, timestamps in UTC ISO
8601 with microseconds. It must give the same bytes when the event is recorded (Python values)
and when it is verified (the same values read back from PostgreSQL), so `summary_normalise`
turns the caller's summary into values that survive a jsonb round trip unchanged.

Changing anything here changes every hash: bump HASH_VERSION and keep the old encoding for the
rows that were written with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import math
from collections.abc import Mapping
from typing import Any, TypedDict

from django.core.serializers.json import DjangoJSONEncoder

HASH_VERSION = 1
GENESIS_HASH = "0" * 64


class EventFields(TypedDict):
    """Everything an event's hash covers (all of its columns except id and hash)."""

    sequence: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    role: str
    zone_id: int | None
    action: str
    object_type: str
    object_id: str
    summary: Any
    purpose: str
    ip: str | None
    user_agent: str
    request_id: str
    prev_hash: str


HASHED_FIELDS: tuple[str, ...] = tuple(EventFields.__annotations__)


def timestamp_canonical(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_bytes(data: Mapping[str, Any]) -> bytes:
    """Canonical JSON of an already JSON-ready mapping (also used for signed checkpoints)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def event_hash(fields: Mapping[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["occurred_at"] = timestamp_canonical(fields["occurred_at"])
    payload["v"] = HASH_VERSION
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def summary_normalise(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary as plain JSON values that jsonb gives back unchanged.

    Dates, UUIDs and Decimals become strings (Django's JSON encoder). A float with no fractional
    part becomes an int, because jsonb stores numbers as numeric and prints 1e16 or 2.0 without a
    decimal point, which reads back as an int and would change the hash. NaN and infinity are
    refused: jsonb cannot store them.
    """
    if summary is None:
        return {}
    if not isinstance(summary, Mapping):
        raise TypeError("an audit summary must be a mapping")
    plain = json.loads(json.dumps(summary, cls=DjangoJSONEncoder, allow_nan=False))
    return _integral_floats_to_int(plain)  # type: ignore[no-any-return]


def _integral_floats_to_int(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):  # pragma: no cover - json.dumps(allow_nan=False) refused it already
            raise ValueError("audit summary numbers must be finite")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _integral_floats_to_int(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_int(item) for item in value]
    return value


def ip_normalise(value: str | None) -> str | None:
    """The address as PostgreSQL's inet type prints it back (compressed, lower case)."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
