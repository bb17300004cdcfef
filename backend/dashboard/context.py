"""The top bar's navigation: only the pages the permission matrix lets this user open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from backend.accounts.otp import second_factor_required
from backend.accounts.permissions import is_allowed

PAGES = [
    ("City map", "dashboard:home"),
    ("Watchlists", "dashboard:watchlists"),
    ("Listings", "dashboard:subjects"),
    ("Operations", "dashboard:operations"),
    ("Match history", "dashboard:match-history"),
    ("Audit log", "dashboard:audit"),
    ("Statistics", "dashboard:stats"),
    ("Evaluation", "dashboard:evaluation-list"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """`navigation`: the allowed pages; `signed_in`: logged in and past the second factor (the
    top bar's live feed and links appear only then: on the 2FA pages they would be refused)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "signed_in": False}
    if second_factor_required(user) and not user.is_verified():
        return {"navigation": [], "signed_in": False}
    current = request.resolver_match.view_name if request.resolver_match else ""
    return {
        "signed_in": True,
        "navigation": [
            {"label": label, "url": reverse(route), "current": current == route}
            for label, route in PAGES
            if is_allowed(user, route, "GET")
        ],
    }
