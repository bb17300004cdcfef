"""pytest: the real services that `make test` starts (its own ports and data folder), a separate
test database that pytest-django creates and drops."""

from __future__ import annotations

from .local import *  # noqa: F403

DEBUG = False
SERVE_STATIC = True
# Fast hashing keeps the permission-matrix test (every role x every route) quick; production
# keeps Django's default PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Django's test flush TRUNCATEs every table; the audit table refuses TRUNCATE unless the session
# opts in (backend/audit/apps.py). Only the test settings do.
AUDIT_ALLOW_TRUNCATE = True
# The suite refuses many logins from one address within minutes: the refusal budgets are large
# here, and the tests of the budgets (test_audit_refusals.py) set their own.
AUDIT_REFUSALS_PER_SOURCE = 100_000
AUDIT_REFUSALS_PER_MINUTE = 100_000
