"""Settings fail loudly: production refuses to start without its secrets and service addresses."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from backend.settings.env import env_bool, env_float, env_int

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://app:pw@db.example:5432/facerec",
    "REDIS_URL": "redis://redis.example:6379",
    "TRITON_URL": "triton.example:8001",
    "DJANGO_ALLOWED_HOSTS": "frs.police.example",
}


def outside_environment() -> dict[str, str]:
    """This process's environment without the variables under test (and without the browser
    tests' DJANGO_ALLOW_ASYNC_UNSAFE, which production's checks rightly refuse)."""
    drop = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def load_production(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = outside_environment()
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "backend.settings.production"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_each_required_variable(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = load_production(env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert missing in lines[0] and "is not set" in lines[0]


def test_production_refuses_a_short_secret_key() -> None:
    result = load_production({**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is shorter" in result.stderr


def test_production_starts_with_everything_set() -> None:
    result = load_production(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"  # DEBUG off


def test_production_passes_the_deploy_checklist() -> None:
    clean = outside_environment()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "backend.settings.production"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_env_int_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_INT", "5")
    assert env_int("X_INT", 1, minimum=1, maximum=10) == 5
    monkeypatch.setenv("X_INT", "50")
    with pytest.raises(ImproperlyConfigured, match="outside"):
        env_int("X_INT", 1, minimum=1, maximum=10)
    monkeypatch.setenv("X_INT", "five")
    with pytest.raises(ImproperlyConfigured, match="must be an integer"):
        env_int("X_INT", 1)


def test_env_float_and_bool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLOAT", "1.5")
    with pytest.raises(ImproperlyConfigured):
        env_float("X_FLOAT", 0.5, minimum=0.0, maximum=1.0)
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_BOOL", "yes")
    assert env_bool("X_BOOL", False) is True


def test_production_refuses_to_relax_the_second_factor() -> None:
    result = load_production({**PRODUCTION_ENV, "FR_RELAX_SECOND_FACTOR": "true"})
    assert result.returncode != 0
    assert "second factor cannot be relaxed" in result.stderr


# --- finding 13 of issue 18: production is the default ---------------------------------------------
ENTRY_POINTS = {
    "manage.py": [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECOND_FACTOR_RELAXED)"],
    "asgi": [sys.executable, "-c", "import backend.asgi; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECOND_FACTOR_RELAXED)"],
    "wsgi": [sys.executable, "-c", "import backend.wsgi; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECOND_FACTOR_RELAXED)"],
    "celery": [sys.executable, "-c", "import backend.celery, django; django.setup(); from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECOND_FACTOR_RELAXED)"],
}  # fmt: skip


def _without_settings_module(env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in outside_environment().items() if k != "DJANGO_SETTINGS_MODULE"}
    return {**clean, **env}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_defaults_to_production(entry: str) -> None:
    """No settings module named: production (DEBUG off, second factor enforced), never local with
    its fallback secret key."""
    result = subprocess.run(
        ENTRY_POINTS[entry], env=_without_settings_module(PRODUCTION_ENV), cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "backend.settings.production False False"


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_entry_point_without_settings_or_secrets_refuses_to_start(entry: str) -> None:
    """The attack: start a server with no settings named and get DEBUG, a relaxed second factor
    and the fallback key. Now it stops, naming what is missing."""
    result = subprocess.run(
        ENTRY_POINTS[entry], env=_without_settings_module({}), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "is not set" in result.stderr
