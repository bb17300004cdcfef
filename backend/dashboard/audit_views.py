"""The auditor's page: the audit log with filters and CSV export, and the chain's verification
status with the last signed checkpoint.

The page is a shell: the filter form is a plain GET form whose valid values become the query of
the audit API (/api/v1/audit/events/, which checks the permission matrix again on every call);
audit.js fetches the events and the verification report and renders them as text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.permissions import page_allowed
from backend.accounts.roles import ALL_ROLES
from backend.audit.checkpoints import CheckpointError, checkpoint_last, public_key_load
from backend.audit.services import ROLE_ANONYMOUS, ROLE_SYSTEM
from backend.zones.models import Zone

PAGE_SIZE = 50
# The roles an event can carry: a person's, or "system" / "anonymous" (backend/audit/services.py).
EVENT_ROLES = [*(role.value for role in ALL_ROLES), ROLE_SYSTEM, ROLE_ANONYMOUS]


class AuditFilterForm(forms.Form):
    """The filters of backend/audit/filters.py that an auditor types; dates are whole days in the
    dashboard's time zone (Asia/Kolkata)."""

    action = forms.CharField(
        required=False,
        max_length=65,
        help_text="Exact, e.g. auth.login, or a prefix ending in *, e.g. auth.*",
    )
    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    role = forms.ChoiceField(required=False, choices=[("", "Any role"), *((role, role) for role in EVENT_ROLES)])
    object_type = forms.CharField(required=False, max_length=64, label="Object type")
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    zone = forms.ModelChoiceField(queryset=Zone.objects.order_by("name"), required=False, empty_label="Any zone")
    date_from = forms.DateField(required=False, label="From (date)", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False, label="To (date, inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def api_query(self) -> list[tuple[str, str]]:
        """The audit API's query parameters for the fields that are valid."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        query: list[tuple[str, str]] = []
        action = data.get("action") or ""
        if action.endswith("*") and action.rstrip("*"):
            query.append(("action_prefix", action.rstrip("*")))
        elif action and not action.endswith("*"):
            query.append(("action", action))
        fields = (
            ("actor", "actor_username"),
            ("role", "role"),
            ("object_type", "object_type"),
            ("object_id", "object_id"),
        )
        query += [(param, data[field]) for field, param in fields if data.get(field)]
        if data.get("zone") is not None:
            query.append(("zone", str(data["zone"].pk)))
        local = ZoneInfo(settings.TIME_ZONE)
        if data.get("date_from"):
            query.append(("since", dt.datetime.combine(data["date_from"], dt.time(), local).isoformat()))
        if data.get("date_to"):
            end = data["date_to"] + dt.timedelta(days=1)
            query.append(("until", dt.datetime.combine(end, dt.time(), local).isoformat()))
        return query


@dataclass(frozen=True)
class LastCheckpoint:
    sequence: int | None = None
    signed_at: dt.datetime | None = None
    problem: str = ""


def last_checkpoint_status() -> LastCheckpoint | None:
    """What was last signed and when, for the page; None when nothing has been signed yet."""
    try:
        public_key = public_key_load()
        if public_key is None:
            return None
        last = checkpoint_last(public_key)
    except CheckpointError as error:
        return LastCheckpoint(
            problem="the last checkpoint's signature is not valid"
            if "invalid signature" in error.reason
            else "the last checkpoint line is not readable"
        )
    except (ImproperlyConfigured, OSError, ValueError):
        return LastCheckpoint(problem="the checkpoint file or its public key cannot be read")
    if last is None:
        return None
    return LastCheckpoint(sequence=last.sequence, signed_at=dt.datetime.fromisoformat(last.signed_at))


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    query = form.api_query()
    context = {
        "form": form,
        "filtered": bool(query),
        "api_query": query,
        "api_query_string": urlencode([*query, ("page_size", str(PAGE_SIZE))]),
        "checkpoint": last_checkpoint_status(),
    }
    return render(request, "dashboard/audit.html", context)
