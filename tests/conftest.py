"""Shared fixtures. `make test` starts PostgreSQL+pgvector, Valkey and Triton on the test ports
and passes their addresses in DATABASE_URL / REDIS_URL / TRITON_URL; pytest-django creates a
separate test database on that server. Worker and web processes that a test needs are started
here as real subprocesses against the test database."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from backend.accounts.models import User
from backend.accounts.roles import ALL_ROLES, Role
from backend.accounts.services import user_create
from backend.devstack import services as devstack_services
from backend.devstack.config import load_config
from backend.devstack.processes import ManagedProcess
from backend.zones.models import Zone
from tests.otp_helpers import login_verified

TEST_PASSWORD = "correct-horse-battery-staple-42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_recognition_context() -> Iterator[None]:
    """Each test starts without cached recognition contexts: primary keys restart after a flush,
    and a camera id of an earlier test must not bring that test's operations along."""
    from backend.recognition.context import context_cache_clear

    context_cache_clear()
    yield
    context_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own channel-layer object. The layer is process-global and keeps Redis
    connection pools per event loop; tests run many short-lived loops (asyncio.run in a thread,
    async_to_sync), and a layer carried across them left a later WebSocket test hanging while its
    loop cancelled a receive bound to an earlier loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session")
def stack_config():  # type: ignore[no-untyped-def]
    return load_config("test")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The test database, created and migrated by the owner role (this process), then the app
    role's privileges on it, as `migrate` in the embedded stack does: the servers and workers the
    tests start connect as the app role, which may only SELECT and INSERT audit rows."""
    from django.core.management import call_command

    if os.environ.get("FR_DB_APP_PASSWORD"):
        with django_db_blocker.unblock():
            call_command("audit_db_roles", "--role", devstack_services.DB_APP_ROLE, verbosity=0)


def app_role_credentials() -> tuple[str, str]:
    """(user, password) of the application's database role; the owner's outside the embedded stack."""
    db = settings.DATABASES["default"]
    app_password = os.environ.get("FR_DB_APP_PASSWORD")
    return (devstack_services.DB_APP_ROLE, app_password) if app_password else (db["USER"], db["PASSWORD"])


def _test_database_env() -> dict[str, str]:
    """Environment for a subprocess (worker, web) that must see the *test* database, as the app role."""
    db = settings.DATABASES["default"]
    user, password = app_role_credentials()
    url = f"postgres://{quote(user)}:{quote(password)}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "TRITON_URL": settings.TRITON_URL,
        "DJANGO_SETTINGS_MODULE": "backend.settings.test",
        "FR_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",  # set for Playwright in this process only, never for servers
    }


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, stack_config) -> Iterator[ManagedProcess]:  # type: ignore[no-untyped-def]
    """A real Celery worker process on the test broker and test database."""
    process = devstack_services.celery_worker_process(stack_config, _test_database_env(), name="pytest-worker")
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def web_server(django_db_setup, stack_config) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real ASGI server (Daphne: Django + Channels) on a free port, on the test database."""
    port = free_port()
    process = devstack_services.web_process(stack_config, _test_database_env(), port)
    process.start()
    try:
        process.wait_ready()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture
def zones(db) -> dict[str, Zone]:  # type: ignore[no-untyped-def]
    return {
        "north": Zone.objects.create(code="north", name="North", centre_lat=18.56, centre_lon=73.85),
        "south": Zone.objects.create(code="south", name="South", centre_lat=18.48, centre_lon=73.86),
    }


@pytest.fixture
def make_user(db, zones) -> Callable[..., User]:  # type: ignore[no-untyped-def]
    def make(role: Role, username: str | None = None, zone_codes: tuple[str, ...] = ("north",)) -> User:
        return user_create(
            username=username or f"{role.value}-user",
            password=TEST_PASSWORD,
            role=role,
            zones=[zones[code] for code in zone_codes],
        )

    return make


@pytest.fixture
def users_by_role(make_user) -> dict[Role, User]:  # type: ignore[no-untyped-def]
    return {role: make_user(role) for role in ALL_ROLES}


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_as(users_by_role) -> Callable[[Role | None], APIClient]:  # type: ignore[no-untyped-def]
    """An API client logged in (session, second factor passed) as the user of a role; None = anonymous."""

    def make(role: Role | None) -> APIClient:
        client = APIClient()
        if role is not None:
            login_verified(client, users_by_role[role])
        return client

    return make


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = Path(settings.DATASETS_DIR)
    if not (path / "manifest.csv").exists():
        pytest.fail(f"face datasets not found at {path}; set FR_DATASETS_DIR")
    return path


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"services: DATABASE_URL host={os.environ.get('DATABASE_URL', '-').split('@')[-1]} "
        f"REDIS_URL={os.environ.get('REDIS_URL', '-')} TRITON_URL={os.environ.get('TRITON_URL', '-')}"
    ]


# --- no secrets in the logs of the whole run ---------------------------------------------------
def _known_secrets() -> dict[str, str]:
    found = {"test user password": TEST_PASSWORD}
    try:
        found["database password"] = settings.DATABASES["default"]["PASSWORD"]
        found["Django secret key"] = settings.SECRET_KEY
    except Exception:  # settings unavailable: nothing more to look for
        pass
    return {name: value for name, value in found.items() if value and len(value) >= 8}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Scan the logs every server process wrote during the run (web, workers, Triton, PostgreSQL,
    Valkey) for the run's secrets; any hit fails the run."""
    log_dir = os.environ.get("FR_STACK_LOG_DIR")
    if not log_dir:
        return
    hits = []
    secrets_ = _known_secrets()
    for path in sorted(Path(log_dir).glob("*.log")):
        text = path.read_text(errors="replace")
        hits += [f"{path.name}: {name}" for name, value in secrets_.items() if value in text]
    if hits:
        session.config.stash[_LOG_HITS] = hits
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_LOG_HITS = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    hits = config.stash.get(_LOG_HITS, [])
    if hits:
        terminalreporter.section("secrets found in service logs", red=True)
        for hit in hits:
            terminalreporter.line(hit)
    try:
        from tests.integration.test_api_fuzz import FUZZ_STATS
    except ImportError:
        return
    if FUZZ_STATS["requests"]:
        terminalreporter.section("API fuzz (schemathesis)")
        terminalreporter.line(
            f"{FUZZ_STATS['requests']} requests over {FUZZ_STATS['operations']} operations, "
            f"{len(FUZZ_STATS['server_errors'])} server errors"
        )
