"""Users: one role (a group), membership of zones."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

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
