"""The canonical encoding and hash of audit events, and request metadata (no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import pytest
from django.test import RequestFactory

from backend.audit.hashing import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_bytes,
    event_hash,
    ip_normalise,
    summary_normalise,
    timestamp_canonical,
)
from backend.audit.services import request_id_of


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sequence": 1,
        "occurred_at": dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        "actor_id": 7,
        "actor_username": "insp-patil",
        "role": "officer",
        "zone_id": 3,
        "action": "user.create",
        "object_type": "accounts.user",
        "object_id": "42",
        "summary": {"b": 1, "a": ["x", "y"]},
        "purpose": "",
        "ip": "10.0.0.1",
        "user_agent": "pytest",
        "request_id": "abc",
        "prev_hash": GENESIS_HASH,
    }
    return base | overrides


def test_hash_is_sha256_hex_and_stable() -> None:
    digest = event_hash(fields())
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == event_hash(fields())


def test_hash_ignores_key_order_and_timezone_of_the_same_instant() -> None:
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    same_instant = fields()["occurred_at"].astimezone(ist)
    reordered = fields(summary={"a": ["x", "y"], "b": 1}, occurred_at=same_instant)
    assert event_hash(reordered) == event_hash(fields())


@pytest.mark.parametrize("name", HASHED_FIELDS)
def test_every_hashed_field_changes_the_hash(name: str) -> None:
    changed = {
        "sequence": 2,
        "occurred_at": fields()["occurred_at"] + dt.timedelta(microseconds=1),
        "actor_id": None,
        "zone_id": None,
        "summary": {"b": 2, "a": ["x", "y"]},
        "ip": None,
        "prev_hash": "f" * 64,
    }.get(name, "other")
    assert event_hash(fields(**{name: changed})) != event_hash(fields())


def test_timestamps_are_utc_with_microseconds_and_must_be_aware() -> None:
    assert timestamp_canonical(
        dt.datetime(2025, 1, 2, 8, 34, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    ) == ("2025-01-02T03:04:00.000000+00:00")
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamp_canonical(dt.datetime(2025, 1, 2))


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    assert canonical_bytes({"b": "ठाणे", "a": 1}) == '{"a":1,"b":"ठाणे"}'.encode()


def test_summary_becomes_plain_json_that_jsonb_gives_back_unchanged() -> None:
    when = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    ident = uuid.UUID(int=5)
    summary = summary_normalise(
        {
            "when": when,
            "id": ident,
            "amount": decimal.Decimal("1.50"),
            "big": 1e16,
            "two": 2.0,
            "lat": 18.52,
            "n": [1.0],
        }
    )
    assert summary == {
        "when": "2025-01-02T00:00:00Z",
        "id": str(ident),
        "amount": "1.50",
        "big": 10**16,
        "two": 2,
        "lat": 18.52,
        "n": [1],
    }
    assert summary_normalise(None) == {}


def test_summary_refuses_what_jsonb_cannot_store() -> None:
    with pytest.raises(ValueError):
        summary_normalise({"score": float("nan")})
    with pytest.raises(TypeError):
        summary_normalise(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_ip_is_normalised_like_postgres_inet() -> None:
    assert ip_normalise("2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    assert ip_normalise(" 10.0.0.1 ") == "10.0.0.1"
    assert ip_normalise("not-an-ip") is None
    assert ip_normalise("") is None


def test_request_id_comes_from_the_header_when_well_formed_and_is_stable() -> None:
    factory = RequestFactory()
    request = factory.get("/", HTTP_X_REQUEST_ID="req-12345678")
    assert request_id_of(request) == "req-12345678"
    bad = factory.get("/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    generated = request_id_of(bad)
    assert len(generated) == 32 and generated == request_id_of(bad)  # one id per request


def test_summary_round_trips_through_json_text() -> None:
    summary = summary_normalise({"nested": {"z": [1, 2.5, None, True]}, "ऑफिसर": "नाव"})
    assert json.loads(json.dumps(summary)) == summary
