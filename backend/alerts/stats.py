"""Statistics per zone and day for commissioners, supervisors and auditors: alerts raised,
confirmed, dismissed and the confirmed rate, and the cameras online now.

Read through the same scoping as the alert queue (`alert_list_visible_to`): a supervisor's
figures are of their zones only. Days are calendar days in the dashboard's time zone
(Asia/Kolkata); an alert counts on the day it was raised, with the status it has now. The
confirmed rate is the share of decided alerts (confirmed + dismissed) that were confirmed, None
while none was decided: open alerts are not yet evidence either way."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.selectors import zone_list_visible_to
from backend.cameras.models import Camera

from .models import Alert
from .selectors import READERS, alert_list_visible_to

STATS_DAYS_DEFAULT = 14
STATS_DAYS_MAX = 90


def confirmed_rate(*, confirmed: int, dismissed: int) -> float | None:
    decided = confirmed + dismissed
    return round(confirmed / decided, 4) if decided else None


def _figures(alerts: int, confirmed: int, dismissed: int) -> dict[str, Any]:
    return {
        "alerts": alerts,
        "confirmed": confirmed,
        "dismissed": dismissed,
        "confirmed_rate": confirmed_rate(confirmed=confirmed, dismissed=dismissed),
    }


def alert_stats_by_zone_day(
    *, user: User, days: int = STATS_DAYS_DEFAULT, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The last `days` days (today included), every visible zone (zones with no alert too), each
    day present (zeros where nothing happened), and per-zone and city totals."""
    days = max(1, min(int(days), STATS_DAYS_MAX))
    local = ZoneInfo(settings.TIME_ZONE)
    today = timezone.localtime(now or timezone.now(), local).date()
    first = today - dt.timedelta(days=days - 1)
    day_list = [first + dt.timedelta(days=offset) for offset in range(days)]
    since = dt.datetime.combine(first, dt.time(), local)

    zones = list(zone_list_visible_to(user=user).order_by("name")) if user.role in READERS else []
    rows = (
        alert_list_visible_to(user=user)
        .filter(created_at__gte=since, zone__in=[zone.pk for zone in zones])
        .annotate(day=TruncDate("created_at", tzinfo=local))
        .order_by()
        .values("zone_id", "day")
        .annotate(
            alerts=Count("pk", distinct=True),
            confirmed=Count("pk", filter=Q(status=Alert.Status.CONFIRMED), distinct=True),
            dismissed=Count("pk", filter=Q(status=Alert.Status.DISMISSED), distinct=True),
        )
    )
    counts: dict[tuple[int, dt.date], dict[str, Any]] = {(row["zone_id"], row["day"]): dict(row) for row in rows}
    cameras: dict[int, dict[str, Any]] = {
        row["zone_id"]: dict(row)
        for row in Camera.objects.filter(zone__in=[zone.pk for zone in zones])
        .order_by()
        .values("zone_id")
        .annotate(total=Count("pk"), online=Count("pk", filter=Q(health=Camera.Health.ONLINE)))
    }

    def day_figures(zone_id: int, day: dt.date) -> dict[str, Any]:
        row = counts.get((zone_id, day), {})
        return {
            "date": day.isoformat(),
            **_figures(row.get("alerts", 0), row.get("confirmed", 0), row.get("dismissed", 0)),
        }

    zone_stats: list[dict[str, Any]] = []
    for zone in zones:
        per_day = [day_figures(zone.pk, day) for day in day_list]
        camera_row = cameras.get(zone.pk, {})
        zone_stats.append(
            {
                "id": zone.pk,
                "code": zone.code,
                "name": zone.name,
                "cameras_total": camera_row.get("total", 0),
                "cameras_online": camera_row.get("online", 0),
                "days": per_day,
                "totals": _figures(*(sum(d[key] for d in per_day) for key in ("alerts", "confirmed", "dismissed"))),
            }
        )
    city_days = [
        {
            "date": day.isoformat(),
            **_figures(
                *(sum(z["days"][index][key] for z in zone_stats) for key in ("alerts", "confirmed", "dismissed"))
            ),
        }
        for index, day in enumerate(day_list)
    ]
    return {
        "time_zone": settings.TIME_ZONE,
        "generated_at": (now or timezone.now()).isoformat(),
        "days": [day.isoformat() for day in day_list],
        "zones": zone_stats,
        "city": {
            "cameras_total": sum(z["cameras_total"] for z in zone_stats),
            "cameras_online": sum(z["cameras_online"] for z in zone_stats),
            "days": city_days,
            "totals": _figures(
                *(sum(z["totals"][key] for z in zone_stats) for key in ("alerts", "confirmed", "dismissed"))
            ),
        },
    }
