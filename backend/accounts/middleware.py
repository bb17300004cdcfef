"""Sends a logged-in user who needs a second factor to enrolment or verification before
anything else. API calls with such a session get a 403 with a clear code instead of a redirect."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from .otp import has_confirmed_device, second_factor_required

EXEMPT_PREFIXES = ("/accounts/login/", "/accounts/logout/", "/accounts/2fa/", "/static/", "/healthz")


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
            and second_factor_required(user)
            and not user.is_verified()  # type: ignore[attr-defined]  # set by django-otp's middleware
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "second_factor_required", "message": "Confirm your second factor before using the API."},
                    status=403,
                )
            target = "accounts:2fa-verify" if has_confirmed_device(user) else "accounts:2fa-setup"  # type: ignore[arg-type]
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
