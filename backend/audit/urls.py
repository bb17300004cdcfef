"""Auditor routes, included under /api/v1/audit/ (route names api:audit-*)."""

from __future__ import annotations

from django.urls import path

from .api import AuditEventExportView, AuditEventListView, AuditVerifyView

urlpatterns = [
    path("events/", AuditEventListView.as_view(), name="audit-event-list"),
    path("events/export.csv", AuditEventExportView.as_view(), name="audit-event-export"),
    path("verify/", AuditVerifyView.as_view(), name="audit-verify"),
]
