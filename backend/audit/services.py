"""Recording audit events, and signing checkpoints of the chain.

How other apps record an event
------------------------------
Call `audit_record` from your service, inside the same transaction as the change it describes,
and preferably as the last statement of that transaction (it takes a lock that every other
audited transaction waits for until yours commits)::

    from backend.audit.services import audit_record

    @transaction.atomic
    def user_create(*, actor: User, request: HttpRequest | None = None, ...) -> User:
        user = ...                                  # the change
        audit_record(
            action="user.create",                   # "<domain>.<verb>", lower case, dotted
            actor=actor,                            # who; None = taken from request.user, or "system"
            request=request,                        # gives ip, user agent and request id
            object_type="accounts.user", object_id=str(user.pk),
            summary={"username": user.username, "role": role.value},   # what changed
            zone=None,                              # the zone the object belongs to, if any
        )
        return user

Rules for `summary`: a small JSON object that says what changed (field names, old and new
values of plain fields). Never biometric data (face crops, templates, embeddings, photos),
never secrets (passwords, tokens, TOTP seeds), never a whole request body. Reads of biometric
data and exports state their `purpose` (the caller checks that one was given).

Work without a request or a person (Celery tasks, management commands) uses
`audit_record_system(action=..., ...)`: the event is attributed to the role "system".

Events are never changed or deleted: the database refuses it, and verification
(selectors.audit_chain_verify) detects anyone who gets round that.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.zones.models import Zone

from .checkpoints import (
    checkpoint_append,
    checkpoint_body,
    checkpoint_sign,
    public_key_publish,
    signing_key_load_or_create,
)
from .hashing import GENESIS_HASH, EventFields, event_hash, ip_normalise, summary_normalise
from .models import AuditEvent

logger = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock that serialises appends to the chain ("audit" in ASCII).
CHAIN_LOCK_KEY = 0x6175646974
ROLE_SYSTEM = "system"
ROLE_ANONYMOUS = "anonymous"
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# A request-id middleware that sets request.request_id is honoured; without one we set it here.
REQUEST_ID_ATTRIBUTE = "request_id"
USER_AGENT_MAX = 256


def audit_record(
    *,
    action: str,
    actor: Any = None,
    request: HttpRequest | Any = None,
    object_type: str = "",
    object_id: str | int = "",
    summary: Mapping[str, Any] | None = None,
    purpose: str = "",
    zone: Zone | None = None,
) -> AuditEvent:
    """Append one event to the chain and return it. Raises ValueError for a malformed action or
    summary (a programming error, not a user error). `request` may be Django's or DRF's."""
    if not ACTION_PATTERN.match(action):
        raise ValueError(f"audit action {action!r} must be dotted lower case, e.g. 'user.create'")
    http_request = _http_request(request)
    # request.user of a DRF request is the token or session user; ask it before unwrapping.
    actor = actor if actor is not None else _request_user(request)
    fields = {
        "actor_id": actor.pk if actor is not None else None,
        "actor_username": actor.get_username() if actor is not None else "",
        "role": _role_of(actor, http_request),
        "zone_id": zone.pk if zone is not None else None,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "summary": summary_normalise(summary),
        "purpose": purpose,
        **_request_metadata(http_request),
    }
    # savepoint=False: joins the caller's transaction; on its own (a task) it is one.
    with transaction.atomic(savepoint=False):
        return _append(fields)


def audit_record_system(
    *,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    summary: Mapping[str, Any] | None = None,
    purpose: str = "",
    zone: Zone | None = None,
) -> AuditEvent:
    """An event done by the platform itself (a task, a schedule), not by a person."""
    return audit_record(
        action=action, object_type=object_type, object_id=object_id, summary=summary, purpose=purpose, zone=zone
    )


def _append(fields: dict[str, Any]) -> AuditEvent:
    # The lock is held until the surrounding transaction ends, so the head we read stays the head
    # until our row is committed: no two events can get the same sequence or previous hash.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    sequence, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    hashed: EventFields = {
        **fields,  # type: ignore[typeddict-item]
        "sequence": sequence,
        "prev_hash": prev_hash,
        "occurred_at": timezone.now(),  # after the lock, so time follows sequence on one clock
    }
    return AuditEvent.objects.create(**hashed, hash=event_hash(hashed))


def _http_request(request: Any) -> HttpRequest | None:
    """Django's request behind a DRF Request (attributes we set must land on the real one)."""
    if request is None:
        return None
    return getattr(request, "_request", request)  # type: ignore[no-any-return]


def _request_user(request: Any) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _role_of(actor: Any, request: HttpRequest | None) -> str:
    if actor is None:
        return ROLE_ANONYMOUS if request is not None else ROLE_SYSTEM
    role = getattr(actor, "role", None)
    return role.value if role is not None else ""


def _request_metadata(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {"ip": None, "user_agent": "", "request_id": ""}
    return {
        # REMOTE_ADDR, not X-Forwarded-For: a client can write any forwarded header it likes. Behind
        # a proxy, the proxy's middleware must set REMOTE_ADDR from the header it trusts.
        "ip": ip_normalise(request.META.get("REMOTE_ADDR")),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX],
        "request_id": request_id_of(request),
    }


def request_id_of(request: HttpRequest) -> str:
    """The X-Request-ID the client or proxy sent (when well-formed), else one made up; the same
    for every event of one request."""
    existing = getattr(request, REQUEST_ID_ATTRIBUTE, None)
    if existing:
        return str(existing)
    sent = str(request.META.get("HTTP_X_REQUEST_ID", "")).strip()
    request_id = sent if REQUEST_ID_PATTERN.match(sent) else uuid.uuid4().hex
    setattr(request, REQUEST_ID_ATTRIBUTE, request_id)
    return request_id


def audit_checkpoint_create() -> Path | None:
    """Sign the current head of the chain and append it to the checkpoint file. Returns the
    file, or None while the chain is empty."""
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash", "occurred_at").first()
    if head is None:
        return None
    key = signing_key_load_or_create()
    public_key_publish(key.public_key())
    body = checkpoint_body(sequence=head[0], event_hash=head[1], event_time=head[2], key=key.public_key())
    path = checkpoint_append(checkpoint_sign(body, key))
    logger.info("audit checkpoint signed at sequence %s", head[0])
    return path
