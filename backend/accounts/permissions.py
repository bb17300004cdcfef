"""Enforcement of the permission matrix (permission_matrix.yaml beside this file)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.http import HttpRequest
from rest_framework.permissions import BasePermission

from .roles import ALL_ROLES

MATRIX_PATH = Path(__file__).with_name("permission_matrix.yaml")
ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"


@cache
def load_matrix() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(MATRIX_PATH.read_text())
    known = {role.value for role in ALL_ROLES}
    if set(data["roles"]) != known:
        raise ValueError(f"permission matrix roles {data['roles']} differ from the code's {sorted(known)}")
    for route, methods in data["routes"].items():
        for method, rule in methods.items():
            if rule in (ANONYMOUS, AUTHENTICATED):
                continue
            if not isinstance(rule, list) or not set(rule) <= known:
                raise ValueError(f"permission matrix: {route} {method} has an unknown rule {rule!r}")
    return dict(data["routes"])


def rule_for(route: str | None, method: str) -> str | list[str] | None:
    """The matrix rule for a route and method; None where the matrix says nothing (deny)."""
    if route is None:
        return None
    methods = load_matrix().get(route)
    if methods is None:
        return None
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    return methods.get(method)  # type: ignore[no-any-return]


def is_allowed(user: Any, route: str | None, method: str) -> bool:
    rule = rule_for(route, method)
    if rule is None:
        return False
    if rule == ANONYMOUS:
        return True
    if not (user and user.is_authenticated and user.is_active):
        return False
    role = user.role
    if role is None:
        return False
    return rule == AUTHENTICATED or role.value in rule


def route_name(request: HttpRequest) -> str | None:
    match = request.resolver_match
    return match.view_name if match else None


class MatrixPermission(BasePermission):
    """DRF permission: the route's matrix entry decides. Anonymous callers get 401 (DRF turns a
    denial into 401 when the request is unauthenticated and an authenticator offers a challenge)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_allowed(request.user, route_name(request), request.method)


def page_allowed(request: HttpRequest) -> bool:
    return is_allowed(request.user, route_name(request), request.method or "GET")
