"""Read queries on the audit log, and verification of its hash chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .checkpoints import (
    CHECKPOINT_FILE,
    Checkpoint,
    CheckpointError,
    checkpoint_dir,
    checkpoint_last,
    checkpoints_read,
    public_key_load,
)
from .hashing import GENESIS_HASH, HASHED_FIELDS, event_hash
from .models import AuditEvent

VERIFY_CHUNK_SIZE = 2000


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("-sequence")


@dataclass(frozen=True)
class ChainBreak:
    sequence: int | None
    id: int | None
    reason: str


@dataclass
class ChainReport:
    ok: bool = True
    events_checked: int = 0
    checkpoints_checked: int = 0
    head_sequence: int | None = None
    head_hash: str | None = None
    first_break: ChainBreak | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def one_line(self) -> str:
        if self.first_break is not None:
            where = f"sequence {self.first_break.sequence}" if self.first_break.sequence is not None else "checkpoints"
            row = f" (id {self.first_break.id})" if self.first_break.id is not None else ""
            return f"audit chain BROKEN at {where}{row}: {self.first_break.reason}"
        return (
            f"audit chain OK: {self.events_checked} events, {self.checkpoints_checked} signed checkpoints, "
            f"head sequence {self.head_sequence}"
        )

    def fail(self, *, sequence: int | None, id: int | None, reason: str) -> ChainReport:
        self.ok = False
        self.first_break = ChainBreak(sequence=sequence, id=id, reason=reason)
        return self


def audit_chain_verify(*, checkpoints: bool = True) -> ChainReport:
    """Walk the whole chain in sequence order, streaming, and report the first broken link.

    Per event: the sequence follows the previous one without a gap, prev_hash is the previous
    event's hash, and the hash recomputed from the row equals the stored one. With
    `checkpoints`, the signed checkpoints outside the database must all have valid signatures,
    and the event at each checkpoint's sequence must still carry the hash that was signed (this
    is what catches a chain rewritten consistently from inside the database).
    """
    report = ChainReport()
    expected: dict[int, tuple[str, str]] = {}
    if checkpoints and not _checkpoints_load(report, expected):
        return report
    prev_sequence, prev_hash = 0, GENESIS_HASH
    for row in _chain_rows():
        problem = _row_problem(row, prev_sequence, prev_hash) or _checkpoint_problem(row, expected)
        if problem:
            return report.fail(sequence=row["sequence"], id=row["id"], reason=problem)
        prev_sequence, prev_hash = row["sequence"], row["hash"]
        report.events_checked += 1
    report.head_sequence, report.head_hash = (prev_sequence, prev_hash) if prev_sequence else (None, None)
    beyond = [sequence for sequence in expected if sequence > prev_sequence]
    if beyond:
        # Events were removed from the end: a signed checkpoint names a sequence that is gone.
        return report.fail(
            sequence=min(beyond),
            id=None,
            reason=f"a signed checkpoint names sequence {min(beyond)} but the chain ends at {prev_sequence}",
        )
    if checkpoints:
        _checkpoints_fresh(report, newest=max(expected, default=0))
    return report


def _checkpoints_fresh(report: ChainReport, *, newest: int) -> None:
    """Fail when events old enough to have been signed are not covered by any checkpoint: the
    checkpoint file (or its newest lines) was deleted, or signing stopped. Without this, removing
    the file made verification pass again after a consistent rewrite of the chain."""
    max_age = int(getattr(settings, "AUDIT_CHECKPOINT_MAX_AGE_S", 900))
    unsigned = (
        AuditEvent.objects.filter(sequence__gt=newest, occurred_at__lt=timezone.now() - timedelta(seconds=max_age))
        .order_by("sequence")
        .values_list("sequence", "occurred_at")
        .first()
    )
    if unsigned is None:
        return
    what = "no signed checkpoint exists" if newest == 0 else f"the newest signed checkpoint is at sequence {newest}"
    report.fail(
        sequence=unsigned[0],
        id=None,
        reason=f"checkpoints missing or stale: {what}, but sequence {unsigned[0]} is older than "
        f"{max_age} s (recorded {unsigned[1].isoformat()}); the checkpoint file was removed or signing stopped",
    )


def audit_range_verify(first: int, last: int) -> ChainReport:
    """Verify the links of the chain from sequence `first` to `last` only (an evidence export: the
    events about one alert, from its first to the export itself), not the whole chain: the same
    checks per event as audit_chain_verify, starting from the hash of the event before `first`,
    and the newest signed checkpoint (read from the file's tail) when it falls inside the range.
    Cost: the span, not the chain, and one signature.

    What it proves: the events in the range are consecutive and unchanged relative to each other,
    and those at or before that checkpoint are as signed. The whole chain, with every checkpoint,
    is the auditors' verification (the audit page, `manage.py audit_verify`)."""
    report = ChainReport()
    signed = _checkpoint_newest(report)
    if not report.ok:
        return report
    expected = {signed.sequence: (signed.hash, signed.signed_at)} if signed and first <= signed.sequence <= last else {}
    before = AuditEvent.objects.filter(sequence=first - 1).values_list("hash", flat=True).first()
    if first > 1 and before is None:
        return report.fail(sequence=first - 1, id=None, reason=f"sequence {first - 1} is missing (events removed)")
    prev_sequence, prev_hash = first - 1, before or GENESIS_HASH
    for row in _chain_rows(first=first, last=last):
        problem = _row_problem(row, prev_sequence, prev_hash) or _checkpoint_problem(row, expected)
        if problem:
            return report.fail(sequence=row["sequence"], id=row["id"], reason=problem)
        report.checkpoints_checked += row["sequence"] in expected
        prev_sequence, prev_hash = row["sequence"], row["hash"]
        report.events_checked += 1
    if prev_sequence < last:
        return report.fail(sequence=prev_sequence + 1, id=None, reason=f"sequence {prev_sequence + 1} is missing")
    report.head_sequence, report.head_hash = prev_sequence, prev_hash
    report.notes.append(f"sequences {first} to {last} verified; the whole chain is verified by the auditors")
    return report


def _checkpoint_newest(report: ChainReport) -> Checkpoint | None:
    public_key = public_key_load()
    if public_key is None:
        report.notes.append("no checkpoint public key published yet; range checked without checkpoints")
        return None
    try:
        return checkpoint_last(public_key)
    except CheckpointError as exc:
        report.fail(sequence=exc.sequence, id=None, reason=exc.reason)
        return None


def _chain_rows(*, first: int = 1, last: int | None = None) -> Iterator[dict[str, Any]]:
    # values() + iterator(): a server-side cursor, a chunk of plain dicts at a time, so a chain of
    # millions of events is checked in constant memory.
    columns = ("id", "hash", *HASHED_FIELDS)
    rows = AuditEvent.objects.filter(sequence__gte=first)
    if last is not None:
        rows = rows.filter(sequence__lte=last)
    return rows.order_by("sequence").values(*columns).iterator(chunk_size=VERIFY_CHUNK_SIZE)


def _row_problem(row: dict[str, Any], prev_sequence: int, prev_hash: str) -> str | None:
    if row["sequence"] != prev_sequence + 1:
        return f"sequence gap: expected {prev_sequence + 1}, found {row['sequence']} (events removed)"
    if row["prev_hash"] != prev_hash:
        return f"prev_hash does not match the hash of sequence {prev_sequence} (link broken)"
    if event_hash(row) != row["hash"]:
        return "stored hash does not match the event's content (event changed)"
    return None


def _checkpoint_problem(row: dict[str, Any], expected: dict[int, tuple[str, str]]) -> str | None:
    signed = expected.get(row["sequence"])
    if signed is not None and signed[0] != row["hash"]:
        return f"hash differs from the checkpoint signed at {signed[1]} (chain rewritten up to here)"
    return None


def _checkpoints_load(report: ChainReport, expected: dict[int, tuple[str, str]]) -> bool:
    """Fill `expected` (sequence -> (hash, signed_at)) from the checkpoint file; False (and the
    report failed) when a checkpoint cannot be trusted."""
    public_key = public_key_load()
    if public_key is None and (checkpoint_dir() / CHECKPOINT_FILE).exists():
        report.fail(sequence=None, id=None, reason="checkpoints exist but their public key is missing")
        return False
    if public_key is None:
        report.notes.append("no checkpoint public key published yet; chain checked without checkpoints")
        return True
    try:
        for checkpoint in checkpoints_read(public_key):
            known = expected.get(checkpoint.sequence)
            if known is not None and known[0] != checkpoint.hash:
                report.fail(
                    sequence=checkpoint.sequence,
                    id=None,
                    reason=f"checkpoint line {checkpoint.line} contradicts an earlier checkpoint",
                )
                return False
            expected[checkpoint.sequence] = (checkpoint.hash, checkpoint.signed_at)
            report.checkpoints_checked += 1
    except CheckpointError as exc:
        report.fail(sequence=exc.sequence, id=None, reason=exc.reason)
        return False
    return True
