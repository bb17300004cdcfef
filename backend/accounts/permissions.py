"""Enforcement of the permission matrix (permission_matrix.yaml beside this file)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from .models import User
from .roles import ALL_ROLES

MATRIX_PATH = Path(__file__).with_name("permission_matrix.yaml")
ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
# The route authenticates with a camera-scoped push token, checked by its view (no user, no role).
CAMERA_TOKEN = "camera_token"  # noqa: S105 - a rule name, not a secret
TOKENS_KEY = "tokens"  # per route: the non-user token purposes it accepts (e.g. camera_push)
TOKEN_PURPOSES = {"service", "camera_push"}


@cache
def load_matrix() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(MATRIX_PATH.read_text())
    known = {role.value for role in ALL_ROLES}
    if set(data["roles"]) != known:
        raise ValueError(f"permission matrix roles {data['roles']} differ from the code's {sorted(known)}")
    for route, methods in data["routes"].items():
        for method, rule in methods.items():
            if method == TOKENS_KEY:
                if not set(rule) <= TOKEN_PURPOSES:
                    raise ValueError(f"permission matrix: {route} accepts unknown token purposes {rule!r}")
                continue
            if rule in (ANONYMOUS, AUTHENTICATED, CAMERA_TOKEN):
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


def is_allowed(user: Any, route: str | None, method: str, token_purpose: str | None = None) -> bool:
    """token_purpose: the purpose of the API token the request came with, if any. Service and
    camera-push tokens reach only routes whose matrix entry lists their purpose under `tokens`
    (and then still need their user's role to be allowed)."""
    rule = rule_for(route, method)
    if rule is None:
        return False
    if rule in (ANONYMOUS, CAMERA_TOKEN):
        return True  # CAMERA_TOKEN: the view itself checks the camera's own push token
    if token_purpose in TOKEN_PURPOSES and token_purpose not in load_matrix()[route].get(TOKENS_KEY, []):  # type: ignore[index]
        return False
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
        purpose = getattr(request.auth, "purpose", None)
        return is_allowed(request.user, route_name(request), request.method, purpose)


def acting_user(request: Any) -> User:
    """The authenticated user of a request that MatrixPermission let through (type narrowing for
    views of routes the matrix does not open to anonymous callers)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def page_allowed(request: HttpRequest) -> bool:
    return is_allowed(request.user, route_name(request), request.method or "GET")
