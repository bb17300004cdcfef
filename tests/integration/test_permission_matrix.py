"""Every route Django knows is in the permission matrix, and every (route, method) is called as
anonymous and as each role: the outcome must be what the matrix says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backend.accounts.permissions import ANONYMOUS, AUTHENTICATED, CAMERA_TOKEN, load_matrix
from backend.accounts.roles import ALL_ROLES, Role
from backend.routing import websocket_urlpatterns

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DENIED = {401, 403}


def named_routes(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[str]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from named_routes(entry, inner)
        elif isinstance(entry, URLPattern):
            if entry.name is None:
                raise AssertionError(f"unnamed route {entry.pattern}: every route needs a name and a matrix entry")
            yield f"{namespace}{entry.name}"


def test_every_http_route_has_a_matrix_entry_and_vice_versa() -> None:
    routes = set(named_routes())
    matrix = {name for name in load_matrix() if not name.startswith("ws:")}
    assert routes - matrix == set(), "routes missing from permission_matrix.yaml"
    assert matrix - routes == set(), "matrix entries for routes that no longer exist"


def test_every_websocket_route_has_a_matrix_entry() -> None:
    matrix = load_matrix()
    names = [pattern.name for pattern in websocket_urlpatterns]
    assert names, "the dashboard's live-feed route at least"
    assert all(name and f"ws:{name}" in matrix for name in names), names
    assert len(names) == len([key for key in matrix if key.startswith("ws:")])


CASES = [
    (route, method, role)
    for route, methods in load_matrix().items()
    if not route.startswith("ws:")
    for method in methods
    for role in [None, *ALL_ROLES]
]


def sample_kwargs(route: str, users_by_role, zones) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """URL arguments for routes that take them: real objects, so allowed calls reach the view."""
    from backend.accounts.tokens import token_create

    officer = users_by_role[Role.OFFICER]
    if route == "api:zone-detail":
        return {"pk": zones["south"].pk}  # a zone nobody is a member of (deletable)
    if route in ("api:user-detail", "api:user-reset-2fa"):
        return {"pk": officer.pk}
    if route.startswith("api:accountchange-") and route != "api:accountchange-list":
        return {"pk": _account_change_sample(users_by_role).pk}
    if route == "api:apitoken-detail":
        return {"pk": token_create(user=officer, purpose="user")[0].pk}
    if route in ("api:camera-detail", "api:camera-push-token"):
        from tests.factories import camera_make

        return {"pk": camera_make(zone=zones["north"]).pk}
    if route == "api:camera-frames":
        from tests.factories import camera_make

        return {"camera_id": camera_make(zone=zones["north"], stream_kind="push").pk}
    if route == "dashboard:operation-detail" or (route.startswith("api:operation-") and route != "api:operation-list"):
        return {"pk": _operation_sample(users_by_role, zones).pk}
    if route == "dashboard:alert-detail" or (
        route.startswith("api:alert-") and route not in ("api:alert-list", "api:alert-export", "api:alert-stats")
    ):
        return {"pk": _alert_sample(users_by_role, zones).pk}
    if route in ("dashboard:evaluation-detail", "dashboard:evaluation-markdown", "dashboard:evaluation-html") or (
        route.startswith("api:evaluation-report-") and route != "api:evaluation-report-list"
    ):
        from tests.factories import report_make

        return {"pk": report_make().pk}
    if route == "api:retention-detail":
        return {"data_kind": "login_attempts"}
    if route in ("dashboard:subject-detail", "dashboard:watchlist-import"):
        subject = _watchlist_sample("api:subject-detail", users_by_role, zones)
        return {"pk": subject.pk if route == "dashboard:subject-detail" else subject.watchlist_id}
    if route.startswith(("api:watchlist-", "api:subject", "api:importjob-")) and not route.endswith(
        ("-list", "-stats")
    ):
        return {"pk": _watchlist_sample(route, users_by_role, zones).pk}
    return {}


def _watchlist_sample(route: str, users_by_role, zones):  # type: ignore[no-untyped-def]
    """A watchlist of the users' zone with a pending subject, a photo and a finished import job."""
    from tests.factories import import_job_make, photo_make, subject_make, watchlist_make

    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    subject = subject_make(watchlist=watchlist, created_by=officer)
    if route.startswith("api:subjectphoto-"):
        return photo_make(subject=subject, created_by=officer)
    if route.startswith("api:subject-"):
        return subject
    if route.startswith("api:importjob-"):
        return import_job_make(watchlist=watchlist, created_by=officer)
    return watchlist


def _account_change_sample(users_by_role):  # type: ignore[no-untyped-def]
    """A second-factor reset of the officer that another admin asked for: the admin of the test
    can approve or reject it."""
    from backend.accounts.models import AccountChange
    from backend.accounts.services import user_create
    from tests.conftest import TEST_PASSWORD

    other_admin = user_create(username="admin-two", password=TEST_PASSWORD, role=Role.ADMIN)
    return AccountChange.objects.create(
        user=users_by_role[Role.OFFICER], kind=AccountChange.Kind.SECOND_FACTOR_RESET, requested_by=other_admin
    )


def _operation_sample(users_by_role, zones):  # type: ignore[no-untyped-def]
    """A north operation the officer requested, waiting for authorisation: every allowed role can
    act on it (the supervisor of north, commissioners, admins authorise; the officer edits)."""
    from backend.operations.models import Operation
    from tests.factories import operation_make, watchlist_make

    watchlist = watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])
    return operation_make(
        requested_by=users_by_role[Role.OFFICER],
        authorised_by=None,
        watchlists=[watchlist],
        zones=[zones["north"]],
        status=Operation.Status.REQUESTED,
        zone=zones["north"],
    )


def _alert_sample(users_by_role, zones):  # type: ignore[no-untyped-def]
    """A new alert in north: every allowed role can act on it (escalate, acknowledge, view)."""
    from tests.factories import alert_make, camera_make, operation_make, subject_make, watchlist_make

    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    subject = subject_make(watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active")
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
    )
    return alert_make(subject=subject, camera=camera_make(zone=zones["north"]), operation=operation)


def expected_allowed(rule: object, role: Role | None) -> bool:
    if rule == ANONYMOUS:
        return True
    if rule == CAMERA_TOKEN:
        return False  # only a camera's own push token opens it; no user or role does
    if role is None:
        return False
    return rule == AUTHENTICATED or role.value in rule  # type: ignore[operator]


@pytest.mark.parametrize(("route", "method", "role"), CASES, ids=[f"{r}-{m}-{x or 'anonymous'}" for r, m, x in CASES])
def test_route_outcome_matches_the_matrix(route, method, role, client_as, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    kwargs = sample_kwargs(route, users_by_role, zones)
    url = reverse(route, kwargs=kwargs)
    client = client_as(role)
    response = getattr(client, method.lower())(url, data={}, format="json") if method != "GET" else client.get(url)
    allowed = expected_allowed(load_matrix()[route][method], role)
    status = response.status_code
    redirected_to_login = status == 302 and "/accounts/login/" in response.get("Location", "") and route != "logout"
    if allowed:
        assert status not in DENIED and not redirected_to_login, f"{role} should reach {method} {route}, got {status}"
    else:
        assert status in DENIED or (role is None and redirected_to_login), (
            f"{role or 'anonymous'} should be refused {method} {route}, got {status}"
        )


def test_user_without_a_role_reaches_nothing_but_public_routes(db, client) -> None:  # type: ignore[no-untyped-def]
    from backend.accounts.models import User

    client.force_login(User.objects.create_user("no-role", password="x" * 20))
    assert client.get(reverse("api:me")).status_code == 403
    assert client.get(reverse("dashboard:home")).status_code == 403
    assert client.get(reverse("healthz")).status_code in (200, 503)


# --- WebSocket routes: origin, authentication, second factor and matrix ---------------------------
WS_CASES = [
    (name, role) for name, methods in load_matrix().items() if name.startswith("ws:") for role in [None, *ALL_ROLES]
]


def _ws_path(route: str) -> str:
    name = route.removeprefix("ws:")
    return "/" + str(next(p for p in websocket_urlpatterns if p.name == name).pattern)


async def _ws_connect(path: str, cookie: str | None, origin: bytes = b"http://127.0.0.1") -> tuple[bool, int | None]:
    from channels.testing import WebsocketCommunicator

    from backend.asgi import application

    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    if connected:
        hello = await communicator.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        await communicator.disconnect()
    return connected, code


def run_async(coroutine, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Run a coroutine on a fresh loop in a daemon thread and return its result as soon as it has
    one: Playwright's sync API may already have a loop running in this thread (browser tests
    earlier in the session), and the loop's teardown, which cancels the refused consumer's
    pending channel-layer receive, once hung for minutes in a full run; a daemon thread cannot
    hold the test (or the interpreter's exit) on it."""
    import asyncio
    import queue
    import threading

    results: queue.Queue = queue.Queue()  # type: ignore[type-arg]

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            results.put((True, loop.run_until_complete(coroutine)))
        except BaseException as error:  # handed to the test thread
            results.put((False, error))
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0.1))
            loop.close()

    threading.Thread(target=run, daemon=True).start()
    ok, value = results.get(timeout=timeout)
    if not ok:
        raise value
    return value


def _session_cookie(client) -> str:  # type: ignore[no-untyped-def]
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("route", "role"), WS_CASES, ids=[f"{r}-{x or 'anonymous'}" for r, x in WS_CASES])
def test_websocket_outcome_matches_the_matrix(route, role, client_as) -> None:  # type: ignore[no-untyped-def]
    cookie = _session_cookie(client_as(role)) if role is not None else None
    connected, code = run_async(_ws_connect(_ws_path(route), cookie))
    assert connected is expected_allowed(load_matrix()[route]["CONNECT"], role), (route, role, code)


@pytest.mark.django_db(transaction=True)
def test_websocket_from_a_foreign_origin_is_refused(client_as) -> None:  # type: ignore[no-untyped-def]
    cookie = _session_cookie(client_as(Role.ADMIN))
    connected, _ = run_async(_ws_connect("/ws/status/", cookie, origin=b"https://evil.example"))
    assert connected is False


@pytest.mark.django_db(transaction=True)
def test_websocket_needs_the_second_factor(users_by_role) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()
    client.force_login(users_by_role[Role.OFFICER])  # password only, no verified device
    connected, code = run_async(_ws_connect("/ws/status/", _session_cookie(client)))
    assert connected is False and code == 4401
