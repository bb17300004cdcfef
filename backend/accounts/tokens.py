"""Scoped API tokens: creation (the key is returned once), lookup by hash, revocation, and the
DRF authentication class."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken, User

KEY_BYTES = 32


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(
    *, user: User, purpose: str, name: str = "", created_by: User | None = None, lifetime: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns (row, key). Only the hash is stored: the key cannot be shown again."""
    key = secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken.objects.create(
        user=user,
        purpose=purpose,
        name=name,
        prefix=key[:8],
        key_hash=_hash(key),
        created_by=created_by or user,
        expires_at=timezone.now() + lifetime if lifetime else None,
    )
    return token, key


def token_revoke(*, token: ApiToken, at: datetime | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = at or timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_lookup(key: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key)).first()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    return token


class ScopedTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`. request.auth is the ApiToken, so permission checks can see
    its purpose (backend.accounts.permissions)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = token_lookup(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        # Coarse last-use stamp: one write per token per minute at most.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
