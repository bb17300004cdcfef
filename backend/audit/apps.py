from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "backend.audit"
    label = "audit"
    verbose_name = "Audit log (hash chain)"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.backends.signals import connection_created

        from backend.core.retention import retention_audit_register

        from .services import audit_record

        # Retention (in core, which imports no app) records each purge and policy change here.
        retention_audit_register(audit_record)

        # The database refuses TRUNCATE of the audit table unless the session says otherwise.
        # Django's test flush (TransactionTestCase) truncates every table, so test settings set
        # AUDIT_ALLOW_TRUNCATE = True; no other environment should.
        if getattr(settings, "AUDIT_ALLOW_TRUNCATE", False):
            connection_created.connect(_allow_truncate, dispatch_uid="audit_allow_truncate")


def _allow_truncate(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET audit.allow_truncate = 'on'")
