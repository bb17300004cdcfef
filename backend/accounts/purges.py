"""Retention purges registered by the accounts app (see backend.core.retention)."""

from __future__ import annotations

from datetime import datetime

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.db.models import Q

from backend.core.retention import register_purge

from .models import ApiToken


@register_purge("login_attempts")
def purge_login_attempts(cutoff: datetime) -> int:
    removed = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()[0]
    removed += AccessLog.objects.filter(attempt_time__lt=cutoff).delete()[0]
    removed += AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()[0]
    return removed


@register_purge("sessions")
def purge_sessions(cutoff: datetime) -> int:
    return Session.objects.filter(expire_date__lt=cutoff).delete()[0]


@register_purge("api_tokens_revoked")
def purge_revoked_tokens(cutoff: datetime) -> int:
    return ApiToken.objects.filter(Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)).delete()[0]
