"""Every route Django knows is in the permission matrix, and every (route, method) is called as
anonymous and as each role: the outcome must be what the matrix says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backend.accounts.permissions import ANONYMOUS, AUTHENTICATED, load_matrix
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
    matrix = set(load_matrix())
    assert routes - matrix == set(), "routes missing from permission_matrix.yaml"
    assert matrix - routes == set(), "matrix entries for routes that no longer exist"


def test_every_websocket_route_has_a_matrix_entry() -> None:
    matrix = load_matrix()
    names = [pattern.name for pattern in websocket_urlpatterns]
    assert all(name and f"ws:{name}" in matrix for name in names), names
    assert len(names) == len([key for key in matrix if key.startswith("ws:")])


CASES = [
    (route, method, role)
    for route, methods in load_matrix().items()
    if not route.startswith("ws:")
    for method in methods
    for role in [None, *ALL_ROLES]
]


def expected_allowed(rule: object, role: Role | None) -> bool:
    if rule == ANONYMOUS:
        return True
    if role is None:
        return False
    return rule == AUTHENTICATED or role.value in rule  # type: ignore[operator]


@pytest.mark.parametrize(("route", "method", "role"), CASES, ids=[f"{r}-{m}-{x or 'anonymous'}" for r, m, x in CASES])
def test_route_outcome_matches_the_matrix(route, method, role, client_as, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    kwargs = {}
    if route == "api:zone-detail":
        kwargs = {"pk": zones["south"].pk}  # a zone nobody is a member of (deletable)
    elif route == "api:user-detail":
        kwargs = {"pk": users_by_role[Role.OFFICER].pk}
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
