"""Fuzz every operation of our OpenAPI schema (schemathesis strategies driven by hypothesis)
against the real ASGI server, as an admin: no input may produce a server error (5xx).

The schemathesis pytest plugin does not load under pytest 9 here, so the operations are walked
explicitly; the figures are printed in the terminal summary (tests/conftest.py)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.accounts.tokens import token_create
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 25
FUZZ_STATS: dict[str, Any] = {"requests": 0, "server_errors": [], "operations": 0}


def load_schema(base_url: str, token: str) -> Any:
    request = urllib.request.Request(
        f"{base_url}/api/v1/schema/",
        headers={"Authorization": f"Token {token}", "Accept": "application/vnd.oai.openapi+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return schemathesis.openapi.from_dict(json.loads(response.read()))


def fuzz_user(role: Role) -> Any:
    """Admins reach the account routes; a supervisor of a zone reaches the watchlist routes."""
    from backend.zones.models import Zone

    zone, _ = Zone.objects.get_or_create(code="fuzz", defaults={"name": "Fuzz", "centre_lat": 18.5, "centre_lon": 73.8})
    return user_create(username=f"fuzz-{role.value}", password=TEST_PASSWORD, role=role, zones=[zone])


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR])
def test_no_input_makes_a_server_error(web_server, role) -> None:  # type: ignore[no-untyped-def]
    token = token_create(user=fuzz_user(role), purpose="user")[1]
    headers = {"Authorization": f"Token {token}"}
    schema = load_schema(web_server, token)
    FUZZ_STATS["server_errors"].clear()

    for result in schema.get_all_operations():
        operation = result.ok()
        FUZZ_STATS["operations"] += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call(base_url=web_server, headers=headers)
            FUZZ_STATS["requests"] += 1
            if response.status_code >= 500:
                FUZZ_STATS["server_errors"].append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        call()
    assert FUZZ_STATS["operations"] >= 10
    assert FUZZ_STATS["server_errors"] == []
