"""Development on one machine: the embedded PostgreSQL, Valkey and Triton that `make run` starts.

Secrets for the embedded services live in the data folder (var/secrets, mode 600), written by
backend/devstack the first time it initialises that folder.
"""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import DATA_DIR
from .env import env_bool, env_int

DEBUG = True
SERVE_STATIC = True
# Only here, and only when asked for explicitly, may the second factor be skipped (demos on a
# laptop). Production refuses this variable.
SECOND_FACTOR_RELAXED = env_bool("FR_RELAX_SECOND_FACTOR", False)


def _secret(name: str) -> str:
    path = DATA_DIR / "secrets" / name
    return path.read_text().strip() if path.exists() else ""


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _secret("django_secret_key") or "local-only-not-initialised"

if not os.environ.get("DATABASE_URL"):
    _pg_port = env_int("FR_PG_PORT", 5433, minimum=1, maximum=65535)
    DATABASES["default"]["HOST"] = "127.0.0.1"
    DATABASES["default"].update(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "facerec",
            "USER": "postgres",
            "PASSWORD": _secret("postgres_password"),
            "PORT": _pg_port,
        }
    )
