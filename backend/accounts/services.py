"""What changes users, roles, zone membership, second factors and API tokens: one function per
use case, each recording its audit event in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from backend.audit.services import audit_record
from backend.core.errors import ApplicationError, PermissionDenied
from backend.zones.models import Zone

from . import otp, tokens
from .models import ApiToken, User
from .roles import Role

USER_TOKEN_LIFETIME = timedelta(days=30)
EDITABLE_FIELDS = {"first_name", "last_name", "email", "badge_number"}


def _validated_password(password: str, user: User) -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password") from None
    return password


def _set_role(user: User, role: Role) -> None:
    """Exactly one role: the role groups are mutually exclusive."""
    user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    # get_or_create: the groups come from a data migration, but a flushed test database or a
    # restored dump may lack them, and a role must never silently fail to apply.
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    user._role_cache = role


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role.value if user.role else None,
        "zones": sorted(user.zones.values_list("code", flat=True)),
        "is_active": user.is_active,
        **{name: getattr(user, name) for name in sorted(EDITABLE_FIELDS)},
    }


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    zones: Iterable[Zone] = (),
    actor: User | None = None,
    request: HttpRequest | None = None,
    **fields: str,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(f"A user named {username!r} already exists.", code="duplicate_username")
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"Unknown user fields: {', '.join(sorted(unknown))}.")
    user = User(username=username, **fields)
    user.set_password(_validated_password(password, user))
    user.save()
    _set_role(user, role)
    user.zones.set(list(zones))
    audit_record(
        action="user.create",
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        summary={"after": _snapshot(user)},
    )
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User | None = None,
    request: HttpRequest | None = None,
    role: Role | None = None,
    zones: Iterable[Zone] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    **fields: str,
) -> User:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"Field {sorted(unknown)[0]!r} cannot be changed here.")
    before = _snapshot(user)
    for name, value in fields.items():
        setattr(user, name, value)
    if is_active is not None:
        user.is_active = is_active
    if password is not None:
        user.set_password(_validated_password(password, user))
    user.save()
    if role is not None:
        _set_role(user, role)
    if zones is not None:
        user.zones.set(list(zones))
    after = _snapshot(user)
    changed = {key: {"before": before[key], "after": after[key]} for key in after if before[key] != after[key]}
    if password is not None:
        changed["password"] = {"changed": True}  # that it changed, never what to
    action = "user.role_change" if "role" in changed else "user.zone_change" if "zones" in changed else "user.update"
    audit_record(
        action=action,
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        summary={"changed": changed},
    )
    return user


def user_deactivate(*, user: User, actor: User, request: HttpRequest | None = None) -> User:
    """Accounts are never deleted: their actions stay attributable in the audit log."""
    if user.pk == actor.pk:
        raise ApplicationError("You cannot deactivate your own account.", code="self_deactivation")
    with transaction.atomic():
        user = user_update(user=user, actor=actor, request=request, is_active=False)
        for token in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
            tokens.token_revoke(token=token)
    return user


@transaction.atomic
def user_second_factor_reset(*, user: User, actor: User, request: HttpRequest | None = None) -> int:
    """Admin action for a lost phone: the user enrols a new authenticator at next login."""
    removed = otp.devices_reset(user=user)
    audit_record(
        action="auth.otp_reset",
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        summary={"devices_removed": removed},
    )
    return removed


def bootstrap_admin(*, username: str, password: str) -> tuple[User, bool]:
    """Create the first admin account if no admin exists yet. Returns (user, created)."""
    existing = User.objects.filter(groups__name=Role.ADMIN.value, is_active=True).order_by("pk").first()
    if existing is not None:
        return existing, False
    return user_create(username=username, password=password, role=Role.ADMIN), True


# --- API tokens ---------------------------------------------------------------------------------
@transaction.atomic
def api_token_issue(
    *,
    user: User,
    purpose: str,
    actor: User,
    name: str = "",
    request: HttpRequest | None = None,
    lifetime: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Users get their own `user` tokens; only admins issue `service` and `camera_push` tokens."""
    if purpose not in ApiToken.Purpose.values:
        raise ApplicationError(f"Unknown token purpose {purpose!r}.", code="invalid_purpose")
    if purpose == ApiToken.Purpose.USER and user.pk != actor.pk:
        raise PermissionDenied("A user token can only be issued to its own user.")
    if purpose != ApiToken.Purpose.USER and actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins issue service and camera-push tokens.")
    token, key = tokens.token_create(
        user=user,
        purpose=purpose,
        name=name,
        created_by=actor,
        lifetime=lifetime
        if lifetime is not None
        else (USER_TOKEN_LIFETIME if purpose == ApiToken.Purpose.USER else None),
    )
    audit_record(
        action="token.issue",
        actor=actor,
        request=request,
        object_type="api_token",
        object_id=str(token.pk),
        summary={"purpose": purpose, "for_user": user.username, "prefix": token.prefix, "name": name},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User, request: HttpRequest | None = None) -> ApiToken:
    if token.user_id != actor.pk and actor.role != Role.ADMIN:
        raise PermissionDenied("You can revoke only your own tokens.")
    tokens.token_revoke(token=token)
    audit_record(
        action="token.revoke",
        actor=actor,
        request=request,
        object_type="api_token",
        object_id=str(token.pk),
        summary={"purpose": token.purpose, "prefix": token.prefix},
    )
    return token
