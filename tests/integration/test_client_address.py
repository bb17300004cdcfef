"""The caller's address comes from one setting (TRUSTED_PROXY_COUNT), never from what the caller
writes in X-Forwarded-For: login throttling, django-axes' lockout, the audit ip and the /metrics
loopback rule (finding 3 of issue 18). The attack is replayed against the real Daphne server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.test import RequestFactory

from backend.audit.models import AuditEvent
from backend.core.client_address import client_address

pytestmark = [pytest.mark.integration]

ATTEMPTS = 15


def _token_attempt(base_url: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/token/",
        data=json.dumps({"username": "nobody-in-particular", "password": "wrong-guess"}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_with_a_new_forwarded_for_each_are_throttled(web_server, settings) -> None:  # type: ignore[no-untyped-def]
    """15 wrong passwords, each claiming another X-Forwarded-For: they are one caller (the real
    peer), so the login rate limit stops them; the audit records the real address."""
    from django.core.cache import cache

    # Start from a clean count: the rate limit's counters live in Redis, across runs.
    cache.delete_many(["throttle_login_127.0.0.1", "throttle_anon_127.0.0.1"])
    statuses = [_token_attempt(web_server, f"203.0.113.{n}") for n in range(1, ATTEMPTS + 1)]
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    assert limit < ATTEMPTS
    # django-axes locks the (username, address) pair first (AXES_FAILURE_LIMIT), the login rate
    # limit at the latest: either way, once refused, every later try is refused.
    first_refusal = statuses.index(429)
    assert 0 < first_refusal <= limit, statuses
    assert set(statuses[:first_refusal]) == {400} and set(statuses[first_refusal:]) == {429}, statuses
    failures = AuditEvent.objects.filter(action="auth.login_failed", summary__username="nobody-in-particular")
    assert failures.exists()
    assert set(failures.values_list("ip", flat=True)) == {"127.0.0.1"}


def test_metrics_loopback_rule_ignores_a_forged_forwarded_for(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403


def test_behind_one_proxy_the_metrics_rule_sees_the_client_the_proxy_names(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote "127.0.0.1"; the proxy appended the real address: that one counts.
    forged = client.get("/metrics", REMOTE_ADDR="172.18.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 198.51.100.7")
    assert forged.status_code == 403


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "", "10.0.0.9"),
        (0, "127.0.0.1", "10.0.0.9"),  # no proxy: the header is the caller's own text
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "127.0.0.1, 198.51.100.7", "198.51.100.7"),  # left part written by the client
        (2, "127.0.0.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (1, "", "10.0.0.9"),  # reached us without the proxy: the peer
    ],
)
def test_client_address_follows_the_proxy_count(settings, count, forwarded, expected) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # the test settings' topology: no proxy


def test_the_throttles_and_the_lockout_use_the_same_rule(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    assert settings.AXES_CLIENT_IP_CALLABLE == "backend.core.client_address.client_address"
    assert settings.MIDDLEWARE[0] == "backend.core.client_address.ClientAddressMiddleware"
