"""What changes users, roles, zone membership, second factors and API tokens: one function per
use case, each recording its audit event in the same transaction as the change.

Two-person rule for accounts (an admin must have no route to biometric data):
- nobody changes their own role, zones, password, activity or second factor through these
  functions (refused with `self_change`);
- granting a role of APPROVAL_ROLES (it reads faces, or decides account changes), setting another
  user's password and resetting another user's second factor are not applied when an admin asks:
  they become a pending AccountChange that a different admin (neither the requester nor the
  account's user) approves or rejects. Audit: `account.change_request`, then
  `account.change_approve` (or `account.change_reject`).
- Work without an actor (management commands, the demo seed, tests' fixtures) applies directly:
  whoever runs those already holds the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.audit.services import audit_record
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.core.live_events import group_send_blocking
from backend.zones.models import Zone

from . import otp, tokens
from .models import AccountChange, ApiToken, User
from .roles import APPROVAL_ROLES, Role

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
    gated = actor is not None and role in APPROVAL_ROLES
    if not gated:
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
    if gated:
        # The account exists without a role (it reaches nothing) until a second admin approves.
        assert actor is not None
        _change_request(user=user, kind=AccountChange.Kind.ROLE_GRANT, actor=actor, request=request, role=role)
    return user


def _self_change_check(*, user: User, actor: User | None, what: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise PermissionDenied(f"You cannot change your own {what}; ask another admin.", code="self_change")


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
    """Plain fields, zones, demotions and deactivation apply at once; a role grant of
    APPROVAL_ROLES or a new password asked for by an admin becomes a pending AccountChange."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"Field {sorted(unknown)[0]!r} cannot be changed here.")
    if role is not None and role == user.role:
        role = None  # no change (a full PUT repeats the role)
    if zones is not None:
        zones = list(zones)
        if {zone.pk for zone in zones} == set(user.zones.values_list("pk", flat=True)):
            zones = None  # no change
    if is_active is not None and is_active == user.is_active:
        is_active = None
    for what, value in (("role", role), ("zones", zones), ("password", password), ("account status", is_active)):
        if value is not None:
            _self_change_check(user=user, actor=actor, what=what)
    grant = role if actor is not None and role in APPROVAL_ROLES else None
    if grant is not None:
        role = None
    new_hash = make_password(_validated_password(password, user)) if password is not None else None
    if actor is not None and new_hash is not None:
        password, deferred_hash = None, new_hash
    else:
        deferred_hash = None
    before = _snapshot(user)
    for name, value in fields.items():
        setattr(user, name, value)
    if is_active is not None:
        user.is_active = is_active
    if password is not None and new_hash is not None:
        user.password = new_hash
    user.save()
    if password is not None:
        _personal_tokens_revoke(user)
    if role is not None:
        _set_role(user, role)
    if zones is not None:
        user.zones.set(list(zones))
    after = _snapshot(user)
    changed = {key: {"before": before[key], "after": after[key]} for key in after if before[key] != after[key]}
    if password is not None:
        changed["password"] = {"changed": True}  # that it changed, never what to
    action = "user.role_change" if "role" in changed else "user.zone_change" if "zones" in changed else "user.update"
    if changed or not (grant or deferred_hash):
        audit_record(
            action=action,
            actor=actor,
            request=request,
            object_type="user",
            object_id=str(user.pk),
            summary={"changed": changed},
        )
    if {"role", "zones", "is_active", "password"} & set(changed):
        account_changed_notify(user)
    if grant is not None:
        assert actor is not None
        _change_request(user=user, kind=AccountChange.Kind.ROLE_GRANT, actor=actor, request=request, role=grant)
    if deferred_hash is not None:
        assert actor is not None
        _change_request(
            user=user, kind=AccountChange.Kind.PASSWORD_SET, actor=actor, request=request, password_hash=deferred_hash
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
def user_second_factor_reset(*, user: User, actor: User, request: HttpRequest | None = None) -> AccountChange:
    """Admin action for a lost phone: asks for the reset, which a second admin approves; then the
    user enrols a new authenticator at next login (account_change_approve)."""
    _self_change_check(user=user, actor=actor, what="second factor")
    return _change_request(user=user, kind=AccountChange.Kind.SECOND_FACTOR_RESET, actor=actor, request=request)


def _personal_tokens_revoke(user: User) -> int:
    """A password change or a second-factor reset ends every personal API token: a token must not
    outlive the credentials that issued it."""
    revoked = 0
    for token in ApiToken.objects.filter(user=user, purpose=ApiToken.Purpose.USER, revoked_at__isnull=True):
        tokens.token_revoke(token=token)
        revoked += 1
    return revoked


def account_changed_notify(user: User) -> None:
    """After commit, tell the user's open WebSockets to close: their role, zones, activity or
    credentials changed, and the groups they joined were chosen for the old account (they
    reconnect and are checked anew)."""

    def send() -> None:
        group_send_blocking(user_group(user.pk), {"type": "account.changed"})

    transaction.on_commit(send)


def user_group(user_id: int) -> str:
    """The channel-layer group every WebSocket of one user joins."""
    return f"user.{user_id}"


# --- account changes that need a second admin ----------------------------------------------------
def _change_summary(change: AccountChange) -> dict[str, Any]:
    return {"change_id": change.pk, "kind": change.kind, "username": change.user.username} | (
        {"role": change.role} if change.role else {}
    )


def _change_request(
    *,
    user: User,
    kind: str,
    actor: User,
    request: HttpRequest | None,
    role: Role | None = None,
    password_hash: str = "",
) -> AccountChange:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins ask for account changes.", code="not_admin")
    if AccountChange.objects.filter(user=user, kind=kind, status=AccountChange.Status.PENDING).exists():
        raise Conflict("The same change to this account is already waiting for approval.", code="change_pending")
    change = AccountChange.objects.create(
        user=user, kind=kind, role=role.value if role else "", password_hash=password_hash, requested_by=actor
    )
    audit_record(
        action="account.change_request",
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        summary=_change_summary(change),
    )
    return change


def _decider_check(*, change: AccountChange, actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins decide account changes.", code="not_admin")
    if actor.pk == change.requested_by_id:
        raise PermissionDenied("You asked for this change; another admin must decide it.", code="self_approval")
    if actor.pk == change.user_id:
        raise PermissionDenied("This change is to your own account; another admin must decide it.", code="self_change")
    if change.status != AccountChange.Status.PENDING:
        raise Conflict("This change has already been decided.", code="change_decided")


def _locked_change(change: AccountChange) -> AccountChange:
    return AccountChange.objects.select_for_update().select_related("user").get(pk=change.pk)


@transaction.atomic
def account_change_approve(*, change: AccountChange, actor: User, request: HttpRequest | None = None) -> AccountChange:
    """A second admin approves: the change is applied now, in this transaction."""
    change = _locked_change(change)
    _decider_check(change=change, actor=actor)
    user = change.user
    summary = _change_summary(change)
    if change.kind == AccountChange.Kind.ROLE_GRANT:
        summary["role_before"] = user.role.value if user.role else None
        _set_role(user, Role(change.role))
        account_changed_notify(user)
    elif change.kind == AccountChange.Kind.PASSWORD_SET:
        user.password = change.password_hash
        user.save(update_fields=["password"])
        summary["tokens_revoked"] = _personal_tokens_revoke(user)
        account_changed_notify(user)
    else:
        summary["devices_removed"] = otp.devices_reset(user=user)
        summary["tokens_revoked"] = _personal_tokens_revoke(user)
        account_changed_notify(user)
    change.status, change.decided_by, change.decided_at = AccountChange.Status.APPROVED, actor, timezone.now()
    change.password_hash = ""  # applied (or never will be): the hash is not kept twice
    change.save()
    audit_record(
        action="account.change_approve",
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        summary=summary | {"requested_by": change.requested_by.username},
    )
    return change


@transaction.atomic
def account_change_reject(*, change: AccountChange, actor: User, request: HttpRequest | None = None) -> AccountChange:
    """Another admin refuses, or the requester withdraws: nothing is applied."""
    change = _locked_change(change)
    if not (actor.pk == change.requested_by_id and change.status == AccountChange.Status.PENDING):
        _decider_check(change=change, actor=actor)  # withdrawing one's own request is always allowed
    change.status, change.decided_by, change.decided_at = AccountChange.Status.REJECTED, actor, timezone.now()
    change.password_hash = ""
    change.save()
    audit_record(
        action="account.change_reject",
        actor=actor,
        request=request,
        object_type="user",
        object_id=str(change.user_id),
        summary=_change_summary(change),
    )
    return change


def bootstrap_admin(*, username: str, password: str) -> tuple[User, bool]:
    """Create the first admin account if no admin exists yet. Returns (user, created)."""
    existing = User.objects.filter(groups__name=Role.ADMIN.value, is_active=True).order_by("pk").first()
    if existing is not None:
        return existing, False
    return user_create(username=username, password=password, role=Role.ADMIN), True


# --- API tokens ---------------------------------------------------------------------------------
def _token_second_factor_check(*, actor: User, otp_code: str | None, request: HttpRequest | None) -> None:
    """Minting a token needs a fresh one-time code from anyone whose role has a second factor,
    whatever the request came with: a session or a token alone cannot mint tokens (a stolen token
    must not be able to renew itself)."""
    if not otp.second_factor_required(actor):
        return
    if otp.code_verify(user=actor, code=otp_code or "") is not None:
        return
    with transaction.atomic():
        audit_record(
            action="auth.otp_failed",
            actor=actor,
            request=request,
            object_type="user",
            object_id=str(actor.pk),
            summary={"via": "api_token"},
        )
    raise ApplicationError("A valid one-time code is required for your role.", code="second_factor_required")


def api_token_issue(
    *,
    user: User,
    purpose: str,
    actor: User,
    name: str = "",
    request: HttpRequest | None = None,
    lifetime: timedelta | None = None,
    otp_code: str | None = None,
) -> tuple[ApiToken, str]:
    """Users get their own `user` tokens; only admins issue `service` and `camera_push` tokens.
    Either way the actor's one-time code is checked first (where their role has a second factor)."""
    if purpose not in ApiToken.Purpose.values:
        raise ApplicationError(f"Unknown token purpose {purpose!r}.", code="invalid_purpose")
    if purpose == ApiToken.Purpose.USER and user.pk != actor.pk:
        raise PermissionDenied("A user token can only be issued to its own user.")
    if purpose != ApiToken.Purpose.USER and actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins issue service and camera-push tokens.")
    _token_second_factor_check(actor=actor, otp_code=otp_code, request=request)
    with transaction.atomic():
        return _api_token_create(user=user, purpose=purpose, actor=actor, name=name, request=request, lifetime=lifetime)


def _api_token_create(
    *,
    user: User,
    purpose: str,
    actor: User,
    name: str,
    request: HttpRequest | None,
    lifetime: timedelta | None,
) -> tuple[ApiToken, str]:
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
