"""Second factor (TOTP, django-otp): who needs it, enrolment, verification."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User


def second_factor_required(user: Any) -> bool:
    if settings.SECOND_FACTOR_RELAXED:
        return False
    role = getattr(user, "role", None)
    return role is not None and role.value in settings.SECOND_FACTOR_ROLES


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolment_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed device. Any earlier unconfirmed one is discarded, so each secret is
    displayed exactly once."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=False)


def enrolment_confirm(*, user: User, code: str) -> TOTPDevice | None:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None or not device.verify_token(code.strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()  # one authenticator per user
    return device


def code_verify(*, user: User, code: str) -> TOTPDevice | None:
    code = (code or "").strip()
    if not code:
        return None  # a missing code is not a wrong guess: it must not start the device's throttling
    device = match_token(user, code)
    return device if device is not None and device.confirmed else None


def devices_reset(*, user: User) -> int:
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


def qr_svg(device: TOTPDevice) -> str:
    """The provisioning URI as an inline SVG (no image library, no external service)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")  # type: ignore[no-any-return]
