"""WebSockets against the real Daphne server and the Redis channel layer (issue 18):
- finding 9: a socket closes when its user is deactivated, demoted or moved to other zones (it
  would otherwise keep the groups chosen for the old account);
- finding 4: a commissioner's /ws/events/ carries camera status, never alerts (names, positions)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from typing import Any

import aiohttp
import pytest
from django.test import Client

from backend.accounts import services
from backend.accounts.consumers import CLOSE_ACCOUNT_CHANGED
from backend.accounts.roles import Role
from backend.core.live_events import event_publish_now
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _cookie(user: Any) -> str:
    client = Client()
    login_verified(client, user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def _session(url: str, cookie: str, ready: concurrent.futures.Future, timeout: float) -> dict[str, Any]:  # type: ignore[type-arg]
    """Connect, say when the hello came, then collect events until the server closes or time is up."""
    events: list[dict[str, Any]] = []
    headers = {"Cookie": cookie, "Origin": url.split("/ws/")[0].replace("ws://", "http://")}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as socket:
        hello = await socket.receive_json(timeout=10)
        assert hello["type"] == "hello"
        ready.set_result(True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = await socket.receive(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if message.type == aiohttp.WSMsgType.TEXT:
                events.append(json.loads(message.data))
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                break
        return {"events": events, "close_code": socket.close_code, "closed": socket.closed}


def _open(web_server: str, path: str, cookie: str, timeout: float) -> concurrent.futures.Future:  # type: ignore[type-arg]
    ready: concurrent.futures.Future = concurrent.futures.Future()  # type: ignore[type-arg]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    url = web_server.replace("http://", "ws://") + path
    result = pool.submit(asyncio.run, _session(url, cookie, ready, timeout))
    ready.result(timeout=20)
    time.sleep(0.5)  # the consumer joined its groups after the hello was sent
    return result


@pytest.mark.parametrize("change", ["deactivated", "demoted", "moved"])
@pytest.mark.parametrize("path", ["/ws/events/", "/ws/status/"])
def test_a_socket_closes_when_its_account_changes(web_server, users_by_role, zones, change, path) -> None:  # type: ignore[no-untyped-def]
    officer, admin = users_by_role[Role.OFFICER], users_by_role[Role.ADMIN]
    listening = _open(web_server, path, _cookie(officer), timeout=15)
    if change == "deactivated":
        services.user_deactivate(user=officer, actor=admin)
    elif change == "demoted":
        services.user_update(user=officer, actor=admin, role=Role.COMMISSIONER)
    else:
        services.user_update(user=officer, actor=admin, zones=[zones["south"]])
    outcome = listening.result(timeout=30)
    assert outcome["closed"] and outcome["close_code"] == CLOSE_ACCOUNT_CHANGED, outcome


def test_a_plain_field_change_keeps_the_socket_open(web_server, users_by_role) -> None:  # type: ignore[no-untyped-def]
    officer, admin = users_by_role[Role.OFFICER], users_by_role[Role.ADMIN]
    listening = _open(web_server, "/ws/status/", _cookie(officer), timeout=3)
    services.user_update(user=officer, actor=admin, badge_number="PN-4471")
    assert listening.result(timeout=30)["close_code"] != CLOSE_ACCOUNT_CHANGED


def test_commissioners_hear_camera_status_but_no_alerts(web_server, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    commissioner, auditor = users_by_role[Role.COMMISSIONER], users_by_role[Role.AUDITOR]
    theirs = _open(web_server, "/ws/events/", _cookie(commissioner), timeout=4)
    audit = _open(web_server, "/ws/events/", _cookie(auditor), timeout=4)
    alert = {"type": "alert.created", "alert": {"id": 1, "subject_name": "Listed Person", "latitude": 18.5}}
    camera = {"type": "camera.status", "camera": {"id": 7, "health": "online"}}
    event_publish_now(zone_id=zones["north"].pk, event=alert)
    event_publish_now(zone_id=zones["north"].pk, event=camera)
    heard = [event["type"] for event in theirs.result(timeout=30)["events"]]
    assert heard == ["camera.status"]
    assert [event["type"] for event in audit.result(timeout=30)["events"]] == ["alert.created", "camera.status"]
