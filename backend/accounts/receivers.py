"""Audit events for Django's own authentication signals (the login and logout views are
Django's; these receivers only record)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from backend.audit.refusals import audit_refusal
from backend.audit.services import audit_record


@receiver(user_logged_in, dispatch_uid="audit-login")
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action="auth.login", actor=user, request=request, object_type="user", object_id=str(user.pk))


@receiver(user_logged_out, dispatch_uid="audit-logout")
def record_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, request=request, object_type="user", object_id=str(user.pk))


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def record_login_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # The username tried is recorded (it may not exist); the password never is. Within a budget
    # per source and per minute; beyond it counted into one summary a minute (audit/refusals.py).
    username = str(credentials.get("username", ""))[:150]
    audit_refusal(
        action="auth.login_failed",
        key=username,
        request=request,
        object_type="user",
        object_id="",
        summary={"username": username},
    )
