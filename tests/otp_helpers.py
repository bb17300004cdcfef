"""Test helpers for the second factor: enrol a confirmed TOTP device and produce valid codes,
exactly as an authenticator app would (RFC 6238 through django-otp's own implementation)."""

from __future__ import annotations

import base64
import time
from typing import Any

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def enrol(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)


def code_for_key(key: bytes, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    totp = TOTP(key, step=step, digits=digits)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():0{digits}d}"


def code_for(device: TOTPDevice, *, at: float | None = None) -> str:
    return code_for_key(device.bin_key, at=at, step=device.step, digits=device.digits)


def code_for_base32_secret(secret: str) -> str:
    """For a secret as the enrolment page shows it (base32, as authenticator apps take it)."""
    padded = secret + "=" * (-len(secret) % 8)
    return code_for_key(base64.b32decode(padded))


def login_verified(client: Any, user: Any) -> TOTPDevice:
    """Log a test client in with a session that has passed the second factor."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
