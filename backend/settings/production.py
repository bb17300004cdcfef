"""Production: every secret and service address comes from the environment, nothing defaults.

Importing this module with a missing variable stops the process with one line naming it.
"""

from __future__ import annotations

import os
import sys

import dj_database_url

from .base import *  # noqa: F403
from .env import env_bool, env_list

REQUIRED = {
    "DJANGO_SECRET_KEY": "a long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`)",
    "DATABASE_URL": "postgres://USER:PASSWORD@HOST:5432/DBNAME of PostgreSQL 16+ with pgvector",
    "REDIS_URL": "redis://HOST:6379 (no db number)",
    "TRITON_URL": "HOST:8001, the Triton gRPC endpoint",
    "DJANGO_ALLOWED_HOSTS": "comma-separated host names the site is served as",
}
_missing = [name for name in REQUIRED if not os.environ.get(name)]
if _missing:
    name = _missing[0]
    sys.stderr.write(
        f"production settings: environment variable {name} is not set; set it to {REQUIRED[name]}"
        + (f" (also missing: {', '.join(_missing[1:])})" if _missing[1:] else "")
        + "\n"
    )
    raise SystemExit(2)

if os.environ.get("FR_RELAX_SECOND_FACTOR", "").strip().lower() not in ("", "0", "false", "no", "off"):
    sys.stderr.write(
        "production settings: FR_RELAX_SECOND_FACTOR is set; the second factor cannot be relaxed in production, unset it\n"
    )
    raise SystemExit(2)
SECOND_FACTOR_RELAXED = False

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
if len(SECRET_KEY) < 40:
    sys.stderr.write(
        "production settings: DJANGO_SECRET_KEY is shorter than 40 characters; generate a long random one\n"
    )
    raise SystemExit(2)
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [f"https://{host}" for host in ALLOWED_HOSTS])
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
