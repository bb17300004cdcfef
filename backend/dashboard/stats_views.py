"""Statistics per zone and day (commissioners; supervisors for their zones; auditors): alerts,
confirmed rate and cameras online, as charts that stats.js draws from GET /api/v1/alerts/stats/
and, under them, the same figures as a table rendered here from the same selector (the table is
the fallback: readable without the script, by screen readers, and copyable)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.permissions import page_allowed
from backend.alerts.stats import STATS_DAYS_DEFAULT, alert_stats_by_zone_day

DAY_CHOICES = (7, 14, 30, 90)


@login_required
def zone_stats(request: HttpRequest) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    raw = request.GET.get("days", "")
    days = int(raw) if raw.isdigit() and int(raw) in DAY_CHOICES else STATS_DAYS_DEFAULT
    stats = alert_stats_by_zone_day(user=request.user, days=days)  # type: ignore[arg-type]
    return render(request, "dashboard/stats.html", {"stats": stats, "days": days, "day_choices": DAY_CHOICES})
