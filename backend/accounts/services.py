"""What changes users: one function per use case. (From the accountability issue on, each of
these records its audit event in the same transaction.)"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from backend.cameras.models import Zone
from backend.core.errors import ApplicationError

from .models import User
from .roles import Role


def _validated_password(password: str, user: User) -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password") from None
    return password


@transaction.atomic
def user_set_role(*, user: User, role: Role) -> User:
    """Give the user exactly one role: the role groups are mutually exclusive."""
    role_groups = Group.objects.filter(name__in=[r.value for r in Role])
    user.groups.remove(*role_groups)
    # get_or_create: the groups come from a data migration, but a flushed test database or a
    # restored dump may lack them, and a role must never silently fail to apply.
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    user._role_cache = role
    return user


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    zones: Iterable[Zone] = (),
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    badge_number: str = "",
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(f"A user named {username!r} already exists.", code="duplicate_username")
    user = User(
        username=username, first_name=first_name, last_name=last_name, email=email, badge_number=badge_number
    )
    user.set_password(_validated_password(password, user))
    user.save()
    user_set_role(user=user, role=role)
    user.zones.set(list(zones))
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    role: Role | None = None,
    zones: Iterable[Zone] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    **fields: str,
) -> User:
    for name, value in fields.items():
        if name not in {"first_name", "last_name", "email", "badge_number"}:
            raise ApplicationError(f"Field {name!r} cannot be changed here.")
        setattr(user, name, value)
    if is_active is not None:
        user.is_active = is_active
    if password is not None:
        user.set_password(_validated_password(password, user))
    user.save()
    if role is not None:
        user_set_role(user=user, role=role)
    if zones is not None:
        user.zones.set(list(zones))
    return user


def user_deactivate(*, user: User, actor: User) -> User:
    """Accounts are never deleted (their actions stay attributable in the audit log)."""
    if user.pk == actor.pk:
        raise ApplicationError("You cannot deactivate your own account.", code="self_deactivation")
    return user_update(user=user, is_active=False)


def bootstrap_admin(*, username: str, password: str) -> tuple[User, bool]:
    """Create the first admin account if no admin exists yet. Returns (user, created)."""
    existing = User.objects.filter(groups__name=Role.ADMIN.value, is_active=True).order_by("pk").first()
    if existing is not None:
        return existing, False
    return user_create(username=username, password=password, role=Role.ADMIN), True
