"""Statistics per zone and day (backend/alerts/stats.py, GET /api/v1/alerts/stats/): the figures,
the day boundary in Asia/Kolkata, the confirmed rate of decided alerts, cameras online now, zone
scoping for supervisors, and the roles the matrix lets in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backend.accounts.roles import Role
from backend.alerts.models import Alert
from backend.alerts.stats import alert_stats_by_zone_day
from backend.cameras.models import Camera
from tests.factories import alert_make, camera_make, operation_make, subject_make, watchlist_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

STATS = "/api/v1/alerts/stats/"
# 10:00 IST on 26 Nov 2026.
NOW = dt.datetime(2026, 11, 26, 4, 30, tzinfo=dt.UTC)


@pytest.fixture
def city(users_by_role, zones) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    cameras = {
        "north": [
            camera_make(zone=zones["north"], health=Camera.Health.ONLINE),
            camera_make(zone=zones["north"], health=Camera.Health.ONLINE),
            camera_make(zone=zones["north"], health=Camera.Health.OFFLINE),
        ],
        "south": [camera_make(zone=zones["south"], health=Camera.Health.DEGRADED)],
    }
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    subject = subject_make(watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active")
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=list(zones.values())
    )

    def alert(zone: str, at: dt.datetime, status: str = Alert.Status.NEW) -> Alert:
        extra: dict[str, Any] = {"status": status}
        if status == Alert.Status.CONFIRMED:
            extra |= {"confirmed_by": officer, "verified_by": supervisor}
        made = alert_make(subject=subject, camera=cameras[zone][0], operation=operation, **extra)
        Alert.objects.filter(pk=made.pk).update(created_at=at)
        return made

    today = NOW - dt.timedelta(hours=1)  # 09:00 IST, 26 Nov
    yesterday_late = dt.datetime(2026, 11, 25, 18, 40, tzinfo=dt.UTC)  # 00:10 IST, 26 Nov: today in IST
    yesterday = dt.datetime(2026, 11, 25, 18, 20, tzinfo=dt.UTC)  # 23:50 IST, 25 Nov
    alert("north", today, Alert.Status.CONFIRMED)
    alert("north", today, Alert.Status.CONFIRMED)
    alert("north", yesterday_late, Alert.Status.DISMISSED)
    alert("north", yesterday, Alert.Status.NEW)
    alert("north", yesterday, Alert.Status.DISMISSED)
    alert("south", today, Alert.Status.CONFIRMED)
    alert("north", dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC))  # outside a two-day window
    return {"cameras": cameras}


def _zone(stats: dict[str, Any], code: str) -> dict[str, Any]:
    return next(zone for zone in stats["zones"] if zone["code"] == code)


def test_figures_per_zone_and_day_in_india_time(city, users_by_role) -> None:  # type: ignore[no-untyped-def]
    stats = alert_stats_by_zone_day(user=users_by_role[Role.COMMISSIONER], days=2, now=NOW)
    assert stats["days"] == ["2026-11-25", "2026-11-26"]
    north = _zone(stats, "north")
    assert north["days"][0] == {
        "date": "2026-11-25",
        "alerts": 2,
        "confirmed": 0,
        "dismissed": 1,
        "confirmed_rate": 0.0,
    }
    assert north["days"][1] == {
        "date": "2026-11-26",
        "alerts": 3,
        "confirmed": 2,
        "dismissed": 1,
        "confirmed_rate": round(2 / 3, 4),
    }
    assert north["totals"] == {"alerts": 5, "confirmed": 2, "dismissed": 2, "confirmed_rate": 0.5}
    assert (north["cameras_online"], north["cameras_total"]) == (2, 3)
    south = _zone(stats, "south")
    assert south["days"][0]["confirmed_rate"] is None  # nothing decided: no rate, not 0 %
    assert south["totals"]["alerts"] == 1 and (south["cameras_online"], south["cameras_total"]) == (0, 1)
    assert stats["city"]["totals"] == {"alerts": 6, "confirmed": 3, "dismissed": 2, "confirmed_rate": 0.6}
    assert [day["alerts"] for day in stats["city"]["days"]] == [2, 4]
    assert (stats["city"]["cameras_online"], stats["city"]["cameras_total"]) == (2, 4)

    wider = alert_stats_by_zone_day(user=users_by_role[Role.COMMISSIONER], days=7, now=NOW)
    assert len(wider["days"]) == 7 and wider["city"]["totals"]["alerts"] == 7


def test_supervisor_sees_only_their_zones(city, users_by_role) -> None:  # type: ignore[no-untyped-def]
    stats = alert_stats_by_zone_day(user=users_by_role[Role.SUPERVISOR], days=2, now=NOW)
    assert [zone["code"] for zone in stats["zones"]] == ["north"]
    assert stats["city"]["totals"]["alerts"] == 5 and stats["city"]["cameras_total"] == 3


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (None, 403),
        (Role.OFFICER, 403),
        (Role.ADMIN, 403),
        (Role.SUPERVISOR, 200),
        (Role.COMMISSIONER, 200),
        (Role.AUDITOR, 200),
    ],
)
def test_api_roles(city, client_as, role, status) -> None:  # type: ignore[no-untyped-def]
    response = client_as(role).get(STATS, {"days": 3})
    assert response.status_code in ((401, 403) if status == 403 else (status,))
    if status == 200:
        body = response.json()
        assert len(body["days"]) == 3 and body["time_zone"] == "Asia/Kolkata"
        codes = [zone["code"] for zone in body["zones"]]
        assert codes == (["north"] if role == Role.SUPERVISOR else ["north", "south"])


@pytest.mark.parametrize("days", ["0", "91", "ten", "1.5"])
def test_api_refuses_a_bad_period(city, client_as, days) -> None:  # type: ignore[no-untyped-def]
    response = client_as(Role.COMMISSIONER).get(STATS, {"days": days})
    assert response.status_code == 400
    assert "days" in response.json()["errors"]


def test_api_default_period(city, client_as) -> None:  # type: ignore[no-untyped-def]
    body = client_as(Role.AUDITOR).get(STATS).json()
    assert len(body["days"]) == 14
