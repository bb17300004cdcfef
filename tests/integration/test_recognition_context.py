"""The per-process recognition context (backend/recognition/context.py) against real PostgreSQL and
Redis: a frame of a known camera costs no ORM query for the camera, its operations and their
watchlists, and every change that matters is seen by the very next frame."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backend.accounts.roles import Role
from backend.cameras.health import camera_health_update
from backend.cameras.models import Camera
from backend.cameras.services import camera_push_token_rotate
from backend.operations import services as operation_services
from backend.recognition.context import camera_context, context_cache_clear, context_invalidate
from tests.factories import camera_make, operation_make, watchlist_make

pytestmark = [pytest.mark.integration]


@pytest.fixture
def covered(zones, users_by_role) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor, name="Missing")
    camera = camera_make(zone=zones["north"], stream_kind=Camera.StreamKind.PUSH)
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
    )
    return {"camera": camera, "watchlist": watchlist, "operation": operation, "runner": officer}


def queries_of(call: Any) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, len(captured.captured_queries)


def test_a_known_camera_costs_no_query(covered) -> None:  # type: ignore[no-untyped-def]
    first, loading = queries_of(lambda: camera_context(covered["camera"].pk))
    assert loading >= 3 and first.searchable
    assert [w.pk for w in first.watchlists] == [covered["watchlist"].pk]
    again, cached = queries_of(lambda: camera_context(covered["camera"].pk))
    assert cached == 0 and again is first
    assert again.operation_for(covered["watchlist"].pk).pk == covered["operation"].pk


def test_ending_the_operation_stops_the_next_frame(covered) -> None:  # type: ignore[no-untyped-def]
    assert camera_context(covered["camera"].pk).searchable
    operation_services.operation_end(operation=covered["operation"], actor=covered["runner"], reason="done")
    after, loading = queries_of(lambda: camera_context(covered["camera"].pk))
    assert loading >= 1 and not after.searchable and after.operations == ()


def test_disabling_the_camera_is_seen_at_once(covered) -> None:  # type: ignore[no-untyped-def]
    camera = covered["camera"]
    assert camera_context(camera.pk).camera is not None
    camera.enabled = False
    camera.save()
    assert camera_context(camera.pk).camera is None


def test_a_deactivated_watchlist_leaves_the_search(covered) -> None:  # type: ignore[no-untyped-def]
    assert camera_context(covered["camera"].pk).watchlists
    watchlist = covered["watchlist"]
    watchlist.active = False
    watchlist.save()
    assert camera_context(covered["camera"].pk).watchlists == ()


def test_health_reports_keep_the_cache(covered) -> None:  # type: ignore[no-untyped-def]
    """Health is written every few seconds per camera; it does not change what is searched."""
    camera = covered["camera"]
    first = camera_context(camera.pk)
    camera_health_update(camera_id=camera.pk, health=Camera.Health.ONLINE, achieved_fps=1.0)
    again, cached = queries_of(lambda: camera_context(camera.pk))
    assert cached == 0 and again is first


def test_another_process_sees_the_bump(covered) -> None:  # type: ignore[no-untyped-def]
    """A bump by anyone (the generation lives in Redis) makes this process recompute; forgetting
    the local entries (a fresh process) does too."""
    first = camera_context(covered["camera"].pk)
    context_invalidate()
    assert camera_context(covered["camera"].pk) is not first
    second = camera_context(covered["camera"].pk)
    context_invalidate(covered["camera"].pk)
    assert camera_context(covered["camera"].pk) is not second
    context_cache_clear()
    _, loading = queries_of(lambda: camera_context(covered["camera"].pk))
    assert loading >= 3


def test_operations_that_start_and_end_by_the_clock_are_seen_on_time(zones, users_by_role) -> None:  # type: ignore[no-untyped-def]
    """No row is saved when a window opens or closes: the entry expires exactly then."""
    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor, name="Later")
    camera = camera_make(zone=zones["north"], stream_kind=Camera.StreamKind.PUSH)
    operation_make(
        requested_by=officer,
        authorised_by=supervisor,
        watchlists=[watchlist],
        zones=[zones["north"]],
        starts_in=timedelta(seconds=1.5),
        lasts=timedelta(seconds=1.5),
    )
    before = camera_context(camera.pk)
    assert not before.searchable and before.next_start_at is not None
    time.sleep(1.6)
    assert camera_context(camera.pk).searchable  # started by the clock
    time.sleep(1.6)
    assert not camera_context(camera.pk).searchable  # ended by the clock


def test_the_push_endpoint_sees_a_rotated_token_and_a_disabled_camera_at_once(covered, users_by_role) -> None:  # type: ignore[no-untyped-def]
    """The push endpoint checks tokens against the cached camera: a rotation retires the old
    token on the very next push, and so does disabling the camera."""
    camera, admin = covered["camera"], users_by_role[Role.ADMIN]
    old = camera_push_token_rotate(camera=camera, actor=admin)
    client = Client()

    def push(key: str) -> int:
        url = f"/api/v1/cameras/{camera.pk}/frames"
        return client.post(url, data=b"\xff\xd8 not a whole jpeg", content_type="image/jpeg",
                           HTTP_AUTHORIZATION=f"Bearer {key}").status_code  # fmt: skip

    assert push(old) != 401  # accepted into sampling (202) or shed (429): the token is good
    new = camera_push_token_rotate(camera=Camera.objects.get(pk=camera.pk), actor=admin)
    assert push(old) == 401
    assert push(new) != 401
    camera = Camera.objects.get(pk=camera.pk)
    camera.enabled = False
    camera.save()
    assert push(new) == 401


def test_an_unknown_camera_has_nothing_to_search(db) -> None:  # type: ignore[no-untyped-def]
    context = camera_context(987654)
    assert context.camera is None and not context.searchable
