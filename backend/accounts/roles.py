"""The five roles. A user holds exactly one role, stored as membership of the Django group of the
same name (groups are created by migration accounts.0002)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COMMISSIONER = "commissioner"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
# Roles that see every zone; the others see only the zones they are members of.
CITY_WIDE_ROLES: frozenset[Role] = frozenset({Role.COMMISSIONER, Role.AUDITOR, Role.ADMIN})
