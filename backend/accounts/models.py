"""Users: one role (a group), membership of zones."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .roles import ALL_ROLES, CITY_WIDE_ROLES, Role


class User(AbstractUser):
    zones = models.ManyToManyField("zones.Zone", blank=True, related_name="members")
    badge_number = models.CharField(max_length=32, blank=True)

    @property
    def role(self) -> Role | None:
        """The user's role, or None for an account with no role (it can reach nothing)."""
        if hasattr(self, "_role_cache"):
            return self._role_cache
        names = set(self.groups.values_list("name", flat=True)) if self.pk else set()
        role = next((r for r in ALL_ROLES if r.value in names), None)
        self._role_cache: Role | None = role
        return role

    @property
    def sees_all_zones(self) -> bool:
        return self.role in CITY_WIDE_ROLES

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A personal API token never outlives the password it was minted under, whichever path set
        the new password (the services, `manage.py changepassword`, a shell). set_password() keeps
        the new raw password in `_password` until save(); a hash upgrade at login does not."""
        password_set = getattr(self, "_password", None) is not None
        super().save(*args, **kwargs)
        if password_set:
            ApiToken.objects.filter(user=self, purpose=ApiToken.Purpose.USER, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )


class ApiToken(models.Model):
    """An API token for one purpose, revocable, stored only as a hash (shown once at creation).

    user         a person's own token (acts as that user, with their role and zones)
    service      another system of the force (e.g. a records system) acting as a service account
    camera_push  a camera or edge box pushing frames; reaches only routes that accept it
    """

    class Purpose(models.TextChoices):
        USER = "user", "user"
        SERVICE = "service", "service"
        CAMERA_PUSH = "camera_push", "camera push"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    name = models.CharField(max_length=120, blank=True)
    prefix = models.CharField(max_length=12, db_index=True, help_text="First characters, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} token {self.prefix}… of {self.user_id}"


class AccountChange(models.Model):
    """A change to someone's account that one admin asks for and a second admin approves (the
    two-person rule for accounts): granting a role that reads faces or administers accounts,
    setting another user's password, resetting another user's second factor. Nothing changes
    until a different admin approves; both steps are audit events."""

    class Kind(models.TextChoices):
        ROLE_GRANT = "role_grant", "role grant"
        PASSWORD_SET = "password_set", "password set"
        SECOND_FACTOR_RESET = "second_factor_reset", "second factor reset"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="account_changes")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    role = models.CharField(max_length=16, blank=True, help_text="The role to grant (role_grant).")
    # The new password's hash (password_set), never the password; emptied once decided.
    password_hash = models.CharField(max_length=256, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Nobody asks for a change to their own account, nor decides their own request.
            models.CheckConstraint(condition=~Q(requested_by=F("user")), name="account_change_not_own_account"),
            # Approved by an admin who neither asked for it nor is its subject (a requester may
            # withdraw their own request: that is a rejection by the requester).
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (Q(decided_by__isnull=False) & ~Q(decided_by=F("requested_by")) & ~Q(decided_by=F("user"))),
                name="account_change_approved_by_another",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_by__isnull=False), name="account_change_decision_has_decider"
            ),
            models.UniqueConstraint(
                fields=["user", "kind"], condition=Q(status="pending"), name="account_change_one_pending_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id} ({self.status})"
