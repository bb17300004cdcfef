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
# Granting one of these needs a second admin's approval (AccountChange): they read faces or, for
# admin, decide account changes (one admin must not be able to mint a second admin to approve with).
APPROVAL_ROLES: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})
