"""Users: one role (a group), membership of zones."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from .roles import ALL_ROLES, CITY_WIDE_ROLES, Role


class User(AbstractUser):
    zones = models.ManyToManyField("cameras.Zone", blank=True, related_name="members")
    badge_number = models.CharField(max_length=32, blank=True)

    @property
    def role(self) -> Role | None:
        """The user's role, or None for an account with no role (it can reach nothing)."""
        cached = getattr(self, "_role_cache", False)
        if cached is not False:
            return cached  # type: ignore[no-any-return]
        names = set(self.groups.values_list("name", flat=True)) if self.pk else set()
        role = next((r for r in ALL_ROLES if r.value in names), None)
        self._role_cache = role
        return role

    @property
    def sees_all_zones(self) -> bool:
        return self.role in CITY_WIDE_ROLES
