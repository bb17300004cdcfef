"""Read queries about users and the zones they may see."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.zones.models import Zone

from .models import User


def zone_list_visible_to(*, user: User) -> QuerySet[Zone]:
    """Commissioners, auditors and admins see every zone; everyone else their own zones."""
    zones = Zone.objects.all()
    return zones if user.sees_all_zones else zones.filter(members=user)


def user_list() -> QuerySet[User]:
    return User.objects.prefetch_related("groups", "zones").order_by("username")
