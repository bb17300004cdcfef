"""The auditor's match history: every alert with its adjudications, filtered by status, zone,
watchlist and date range, a page at a time, and the CSV export (with a required purpose) of the
same filters.

The page reads through the alerts selector and the alert API's own filter set, so the table and
the export (GET /api/v1/alerts/export/, which checks the matrix again and audits the purpose)
always mean the same alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from backend.accounts.permissions import page_allowed
from backend.accounts.selectors import zone_list_visible_to
from backend.alerts.api import AlertFilter
from backend.alerts.models import Alert
from backend.alerts.selectors import alert_export_rows, alert_list_visible_to
from backend.watchlists.models import Watchlist
from backend.watchlists.selectors import watchlist_list_visible_to
from backend.zones.models import Zone

PAGE_SIZE = 50


class HistoryFilterForm(forms.Form):
    """What an auditor types; dates are whole days in Asia/Kolkata."""

    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Alert.Status.choices])
    zone: forms.ModelChoiceField[Zone] = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any zone")
    watchlist: forms.ModelChoiceField[Watchlist] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any watchlist"
    )
    date_from = forms.DateField(required=False, label="From (date)", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False, label="To (date, inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["zone"].queryset = zone_list_visible_to(user=user).order_by("name")  # type: ignore[attr-defined]
        self.fields["watchlist"].queryset = watchlist_list_visible_to(user=user).order_by("name")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def api_query(self) -> list[tuple[str, str]]:
        """The alert API's filter parameters for the fields that are valid."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        query: list[tuple[str, str]] = []
        if data.get("status"):
            query.append(("status", data["status"]))
        for name in ("zone", "watchlist"):
            if data.get(name) is not None:
                query.append((name, str(data[name].pk)))
        local = ZoneInfo(settings.TIME_ZONE)
        if data.get("date_from"):
            query.append(("created_after", dt.datetime.combine(data["date_from"], dt.time(), local).isoformat()))
        if data.get("date_to"):
            end = data["date_to"] + dt.timedelta(days=1)
            query.append(("created_before", dt.datetime.combine(end, dt.time(), local).isoformat()))
        return query


@login_required
def match_history(request: HttpRequest) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    form = HistoryFilterForm(request.GET or None, user=request.user)
    if form.is_bound:
        form.is_valid()
    query = form.api_query()
    alerts = AlertFilter(QueryDict(urlencode(query)), queryset=alert_list_visible_to(user=request.user)).qs  # type: ignore[arg-type]
    alerts = alert_export_rows(alerts).select_related("operation").order_by("-created_at", "-id")
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = request.GET.copy()
    keep.pop("page", None)
    return render(
        request,
        "dashboard/match_history.html",
        {
            "form": form,
            "filtered": bool(query),
            "api_query": query,
            "page": page,
            "page_query": keep.urlencode(),
        },
    )
