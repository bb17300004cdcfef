"""The audit log: an append-only hash chain of everything people and the system did.

Each row's `hash` is sha256 over a canonical encoding of its own fields and the previous row's
hash (backend/audit/hashing.py), and `sequence` counts 1, 2, 3, ... without gaps. The database
refuses UPDATE, DELETE and TRUNCATE of this table (migration 0002); whoever gets round that
(a superuser disabling the trigger) breaks the chain, and whoever rewrites the whole chain
consistently is caught by the signed checkpoints kept outside the database (checkpoints.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .hashing import GENESIS_HASH


class AuditEvent(models.Model):
    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True, editable=False)
    # Users are never deleted (they are deactivated), so PROTECT keeps every event attributable.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    # Snapshots: the username and role at the time, whatever happens to the account later.
    # role is "system" for work without a person (tasks) and "anonymous" for a request without a
    # logged-in user (a failed login).
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    role = models.CharField(max_length=32, blank=True, editable=False)
    # No database constraint: an audit row can never be changed, so it must not stop a zone from
    # being deleted, nor be rewritten by ON DELETE SET NULL. The id stays as recorded.
    zone = models.ForeignKey(
        "zones.Zone",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        editable=False,
    )
    action = models.CharField(max_length=64, db_index=True, editable=False)
    object_type = models.CharField(max_length=64, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    summary = models.JSONField(default=dict, blank=True, editable=False)
    purpose = models.TextField(blank=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    user_agent = models.CharField(max_length=256, blank=True, editable=False)
    request_id = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    prev_hash = models.CharField(max_length=64, default=GENESIS_HASH, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="audit_sequence_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_username or self.role}"
