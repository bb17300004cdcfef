"""Auditor API: the event list, its CSV export (itself an audit event) and chain verification.
Read-only by construction: no view here writes anything but the export's own audit event."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.csv_export import EXPORT_CHUNK_ROWS, csv_lines, streaming_content
from backend.core.errors import ApplicationError

from .filters import AuditEventFilter
from .models import AuditEvent
from .selectors import audit_chain_verify, audit_event_list
from .serializers import EVENT_FIELDS, AuditEventSerializer, ChainReportSerializer
from .services import audit_record


class AuditEventPagination(CursorPagination):
    # Cursor, not offset: stable while new events arrive, and fast deep into a long chain.
    ordering = "-sequence"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class AuditEventListView(generics.ListAPIView[AuditEvent]):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditEventPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()


PURPOSE_MIN_LENGTH = 5


class AuditEventExportView(generics.ListAPIView[AuditEvent]):
    """CSV of the events that match the list's filters, oldest first. `purpose` (required: an
    export copies personal data out of the system) is recorded in the export's own audit event."""

    serializer_class = AuditEventSerializer  # schema only: the body is CSV
    filterset_class = AuditEventFilter
    pagination_class = None
    throttle_scope = "expensive"

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list().order_by("sequence")

    @extend_schema(
        operation_id="audit_events_export",
        filters=True,
        parameters=[OpenApiParameter("purpose", str, required=True, description="why the export is made")],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:  # type: ignore[override]
        queryset = self.filter_queryset(self.get_queryset())  # invalid filters: 400 here
        purpose = str(request.query_params.get("purpose", "")).strip()
        if len(purpose) < PURPOSE_MIN_LENGTH:
            raise ApplicationError("State the purpose of this export.", code="purpose_required")
        known = AuditEventFilter.base_filters
        filters = {key: value for key, value in request.query_params.items() if key in known}
        # Recorded (and committed) before the first row leaves: an export that fails half-way was
        # still an export.
        audit_record(
            action="audit.export",
            request=request,
            object_type="audit.auditevent",
            summary={"format": "csv", "filters": filters},
            purpose=purpose[:500],
        )
        rows = csv_lines(EVENT_FIELDS, queryset.values_list(*_export_columns()).iterator(chunk_size=EXPORT_CHUNK_ROWS))
        response = StreamingHttpResponse(streaming_content(request, rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
        return response


class AuditVerifyView(APIView):
    """Walks the whole chain and checks it against the signed checkpoints (the same report as
    `manage.py audit_verify`). Answers 200 either way: `ok` says whether the chain is intact."""

    throttle_scope = "expensive"  # walks every event

    @extend_schema(responses=ChainReportSerializer)
    def get(self, request: Request) -> Response:
        return Response(audit_chain_verify().as_dict())


def _export_columns() -> list[str]:
    return [name if name not in ("actor", "zone") else f"{name}_id" for name in EVENT_FIELDS]
