"""Auditor API: the event list, its CSV export (itself an audit event) and chain verification.
Read-only by construction: no view here writes anything but the export's own audit event."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
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

from backend.core.errors import ApplicationError

from .filters import AuditEventFilter
from .models import AuditEvent
from .selectors import audit_chain_verify, audit_event_list
from .serializers import EVENT_FIELDS, AuditEventSerializer, ChainReportSerializer
from .services import audit_record

EXPORT_CHUNK_ROWS = 500
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); user
# controlled text (a username typed at a failed login) must not become one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
        rows = _csv_lines(queryset.values_list(*_export_columns()).iterator(chunk_size=EXPORT_CHUNK_ROWS))
        response = StreamingHttpResponse(_streaming_content(request, rows), content_type="text/csv; charset=utf-8")
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


class _LineBuffer:
    """csv.writer writes into this and gets the line back (no buffer grows)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    writer = csv.writer(_LineBuffer())
    yield writer.writerow(EVENT_FIELDS)
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _streaming_content(request: Request, lines: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    # Under ASGI, Django would read a synchronous iterator into one list before sending it; an
    # async iterator that pulls chunks through sync_to_async keeps a large export streaming.
    if isinstance(request._request, ASGIRequest):
        return _async_chunks(lines)
    return lines


async def _async_chunks(lines: Iterator[str]) -> AsyncIterator[str]:
    take = sync_to_async(lambda: "".join(islice(lines, EXPORT_CHUNK_ROWS)), thread_sensitive=True)
    while chunk := await take():
        yield chunk
