"""Second-factor pages: enrolment at first login (secret and QR shown once) and verification."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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


@never_cache
@login_required
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if otp.has_confirmed_device(user):  # type: ignore[arg-type]
        # Replacing an enrolled authenticator is an admin action (reset), not self-service.
        return redirect(f"/accounts/2fa/verify/?next={_next_url(request)}")
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
        "secret": device.config_url.split("secret=")[1].split("&")[0],
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
        return redirect(f"/accounts/2fa/setup/?next={_next_url(request)}")
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
