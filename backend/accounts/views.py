"""Second-factor pages: enrolment at first login (secret and QR shown once) and verification."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from backend.audit.services import audit_record

from . import otp


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return "/"
    return target


def _redirect_keeping_next(route: str, request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse(route)}?{urlencode({'next': _next_url(request)})}")


@never_cache
@login_required
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if otp.has_confirmed_device(user):  # type: ignore[arg-type]
        # Replacing an enrolled authenticator is an admin action (reset), not self-service.
        return _redirect_keeping_next("accounts:2fa-verify", request)
    error = ""
    if request.method == "POST":
        device = otp.enrolment_confirm(user=user, code=request.POST.get("code", ""))  # type: ignore[arg-type]
        if device is not None:
            otp_login(request, device)
            audit_record(
                action="auth.otp_enrolled", actor=user, request=request, object_type="user", object_id=str(user.pk)
            )
            return redirect(_next_url(request))
        error = "That code did not match. Scan the new code below and try again."
    device = otp.enrolment_start(user=user)  # type: ignore[arg-type]
    context = {
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),  # as authenticator apps take it
        "qr_svg": otp.qr_svg(device),
        "error": error,
        "next": _next_url(request),
    }
    return render(request, "registration/2fa_setup.html", context)


@never_cache
@login_required
def second_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not otp.has_confirmed_device(user):  # type: ignore[arg-type]
        return _redirect_keeping_next("accounts:2fa-setup", request)
    error = ""
    if request.method == "POST":
        device = otp.code_verify(user=user, code=request.POST.get("code", ""))  # type: ignore[arg-type]
        if device is not None:
            otp_login(request, device)
            audit_record(
                action="auth.otp_verified", actor=user, request=request, object_type="user", object_id=str(user.pk)
            )
            return redirect(_next_url(request))
        audit_record(action="auth.otp_failed", actor=user, request=request, object_type="user", object_id=str(user.pk))
        error = "That code did not match."
    return render(request, "registration/2fa_verify.html", {"error": error, "next": _next_url(request)})
