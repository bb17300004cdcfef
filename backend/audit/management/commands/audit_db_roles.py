"""manage.py audit_db_roles: give the application's database role what it needs, and no more
than INSERT and SELECT on the audit table. Run as the owner (the role that ran `migrate`), after
every `migrate`: the embedded stack (backend/devstack) and the compose `migrate` service do.

Two roles (docs/architecture.md, "Database roles"):
- the owner / migration role owns every table and runs migrations (the embedded stack's `postgres`,
  the compose `facerec` role);
- the application role (web, workers, beat, ingest) is not the owner of anything: it may SELECT,
  INSERT, UPDATE and DELETE the application's tables, but on `audit_auditevent` only SELECT and
  INSERT. Not being the owner, it cannot disable the append-only trigger, TRUNCATE, or use the
  owner-only `audit.allow_truncate` opt-in (migration 0004).

The role is created when missing (LOGIN, no superuser, no CREATEDB/CREATEROLE); `--password`
(or the environment variable named by `--password-env`) sets its password. Idempotent."""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg import sql

from backend.audit.models import AuditEvent

ROLE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEFAULT_ROLE = "facerec_app"


class Command(BaseCommand):
    help = "Create/grant the application's database role: DML on the app's tables, audit SELECT/INSERT only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", default=os.environ.get("FR_DB_APP_ROLE", DEFAULT_ROLE))
        parser.add_argument("--password", default="", help="set the role's password (else left as it is)")
        parser.add_argument(
            "--password-env", default="FR_DB_APP_PASSWORD", help="environment variable holding the password"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"]
        if not ROLE_PATTERN.match(role):
            raise CommandError(f"{role!r} is not a plain lower-case role name")
        password = options["password"] or os.environ.get(options["password_env"], "")
        with transaction.atomic(), connection.cursor() as cursor:
            if role == _current_user(cursor):
                raise CommandError("run this as the owner (the role that ran migrate), not as the app role")
            if not role_exists(cursor, role):
                create = "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                cursor.execute(sql.SQL(create).format(sql.Identifier(role)))
            if password:
                cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)), [password])
            for statement in grants(role, database=connection.settings_dict["NAME"]):
                cursor.execute(statement)
        self.stdout.write(
            f"database role {role}: app tables read/write, {AuditEvent._meta.db_table} SELECT/INSERT only"
        )


def _current_user(cursor: Any) -> str:
    cursor.execute("SELECT current_user")
    return str(cursor.fetchone()[0])


def role_exists(cursor: Any, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def grants(role: str, *, database: str) -> list[sql.Composed]:
    """The statements that leave `role` with exactly the application's privileges."""
    who, audit = sql.Identifier(role), sql.Identifier(AuditEvent._meta.db_table)
    return [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), who),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(who),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(who),
        sql.SQL("REVOKE TRUNCATE, TRIGGER, REFERENCES ON ALL TABLES IN SCHEMA public FROM {}").format(who),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
        # The audit table: append and read only.
        sql.SQL("REVOKE ALL ON {} FROM {}").format(audit, who),
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(audit, who),
    ]
