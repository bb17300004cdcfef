"""Alerts API: the scoped alert queue, adjudication actions, the audited probe crop, the auditor's
match-history CSV and a subject's sighting trail. Thin: selectors read, services change.

    GET  /api/v1/alerts/                      queue (filters below; open first, by priority)
    GET  /api/v1/alerts/{id}/                 one alert with adjudications and latest sightings
    POST /api/v1/alerts/{id}/acknowledge|confirm|verify|dismiss|escalate/   {"reason": "..."}
    POST /api/v1/alerts/{id}/probe/ {"purpose"}     the probe crop (image/jpeg), audited
    POST /api/v1/alerts/{id}/enrolled/ {"purpose"}  the enrolled photo it matched, audited
    GET  /api/v1/alerts/export/?purpose=      match history as CSV (auditors), audited
    GET  /api/v1/alerts/stats/?days=14        per zone and day figures (commissioners, supervisors, auditors)
    POST /api/v1/alerts/{id}/evidence/ {"purpose"}  one alert's evidence as a zip, audited
    GET  /api/v1/sightings/?subject={id}      a subject's trail, in time order

Audited reads of faces (probe, enrolled, evidence) are POSTs with the purpose in the body, never
GETs: a link, an <img> or a redirect from another site cannot make an officer's browser record a
read "for" a purpose they never stated (a session POST needs the CSRF token)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.permissions import acting_user
from backend.core.csv_export import EXPORT_CHUNK_ROWS, csv_lines, streaming_content
from backend.core.serializers import PurposeInputSerializer, stated_purpose

from . import selectors, services
from .evidence import alert_evidence_export
from .models import Adjudication, Alert, Sighting
from .serializers import (
    AdjudicationInputSerializer,
    AlertDetailSerializer,
    AlertSerializer,
    SightingSerializer,
)
from .stats import STATS_DAYS_DEFAULT, STATS_DAYS_MAX, alert_stats_by_zone_day

BIGINT_MAX = 2**63 - 1
SMALLINT_MAX = 2**15 - 1


class IdFilter(filters.NumberFilter):
    """A whole, positive id (a float or an out-of-range number is a 400, never a database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, max_value: int = BIGINT_MAX, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", max_value)
        super().__init__(*args, **kwargs)


class AlertFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Alert.Status.choices)
    open = filters.BooleanFilter(method="filter_open", label="Only open (true) or only closed (false) alerts")
    priority = IdFilter(field_name="priority", max_value=SMALLINT_MAX)
    zone = IdFilter(field_name="zone_id")
    camera = IdFilter(field_name="camera_id")
    subject = IdFilter(field_name="subject_id")
    watchlist = IdFilter(field_name="watchlist_id")
    operation = IdFilter(field_name="operation_id")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields: list[str] = []

    def filter_open(self, queryset: QuerySet[Alert], name: str, value: bool | None) -> QuerySet[Alert]:
        if value is None:
            return queryset
        opened = {"status__in": Alert.OPEN_STATUSES}
        return queryset.filter(**opened) if value else queryset.exclude(**opened)


class SightingFilter(filters.FilterSet):
    subject = IdFilter(field_name="subject_id", required=True)
    alert = IdFilter(field_name="alert_id")
    camera = IdFilter(field_name="camera_id")
    captured_after = filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="gte")
    captured_before = filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="lt")

    class Meta:
        model = Sighting
        fields: list[str] = []


PURPOSE = OpenApiParameter("purpose", str, required=True, description="why (at least 5 characters); audited")


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Alert]):
    """Alerts of your zones (commissioners and auditors: all). Default order: open alerts first,
    by priority, longest waiting first; then closed alerts, newest first."""

    serializer_class = AlertSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = AlertFilter
    ordering_fields = ["created_at", "priority", "best_score", "last_seen_at", "status"]
    throttle_scope: str | None = None  # the export sets "expensive"

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        alerts = selectors.alert_list_visible_to(user=acting_user(self.request))
        if self.action == "retrieve":
            alerts = selectors.alert_with_history(alerts)
        return selectors.alert_queue_order(alerts)

    def get_serializer_class(self) -> type[AlertSerializer]:
        return AlertDetailSerializer if self.action == "retrieve" else AlertSerializer

    def _adjudicate(self, request: Request, verb: str) -> Response:
        body = AdjudicationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = services.alert_adjudicate(
            alert=self.get_object(),
            action=verb,
            actor=acting_user(request),
            reason=body.validated_data["reason"],
            request=request,
        )
        fresh = selectors.alert_with_history(selectors.alert_list_visible_to(user=acting_user(request))).get(
            pk=alert.pk
        )
        return Response(AlertDetailSerializer(fresh).data)

    @extend_schema(request=AdjudicationInputSerializer, responses=AlertDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Claim the alert (new or escalated -> acknowledged; you become its assignee)."""
        return self._adjudicate(request, Adjudication.Action.ACKNOWLEDGE)

    @extend_schema(request=AdjudicationInputSerializer, responses=AlertDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """First confirmation: -> pending_verification; another officer must verify it."""
        return self._adjudicate(request, Adjudication.Action.CONFIRM)

    @extend_schema(request=AdjudicationInputSerializer, responses=AlertDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        """Second confirmation by someone other than the first: -> confirmed. To reject the
        confirmation, dismiss the alert with the reason."""
        return self._adjudicate(request, Adjudication.Action.VERIFY)

    @extend_schema(request=AdjudicationInputSerializer, responses=AlertDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        """Not the listed person, or nothing to act on (reason required): -> dismissed."""
        return self._adjudicate(request, Adjudication.Action.DISMISS)

    @extend_schema(request=AdjudicationInputSerializer, responses=AlertDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def escalate(self, request: Request, pk: str | None = None) -> Response:
        """Needs more attention (reason required): -> escalated; releases the claim."""
        return self._adjudicate(request, Adjudication.Action.ESCALATE)

    @extend_schema(request=PurposeInputSerializer, responses={(200, "image/jpeg"): bytes})
    @action(detail=True, methods=["post"], filter_backends=[])
    def probe(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The face crop from the camera. A biometric read: `purpose` (body) is required and audited."""
        data = services.alert_probe_read(
            alert=self.get_object(),
            actor=acting_user(request),
            purpose=stated_purpose(request.data),
            request=request,
        )
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(request=PurposeInputSerializer, responses={(200, "image/jpeg"): bytes})
    @action(detail=True, methods=["post"], filter_backends=[])
    def enrolled(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The enrolled photo the alert matched. A biometric read: `purpose` (body) is required and audited."""
        data = services.alert_enrolled_photo_read(
            alert=self.get_object(),
            actor=acting_user(request),
            purpose=stated_purpose(request.data),
            request=request,
        )
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(request=PurposeInputSerializer, responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["post"], filter_backends=[], throttle_scope="expensive")
    def evidence(self, request: Request, pk: str | None = None) -> HttpResponse:
        """Evidence of one alert as a single zip (evidence.json with the audit events and their
        chain proof, probe.jpg, enrolled.jpg): backend/alerts/evidence.py. Purpose required; the
        export is the audit event `alert.evidence_export`."""
        name, data = alert_evidence_export(
            alert=self.get_object(),
            actor=acting_user(request),
            purpose=stated_purpose(request.data),
            request=request,
        )
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        operation_id="alerts_export",
        filters=True,
        parameters=[PURPOSE],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"], pagination_class=None, throttle_scope="expensive")
    def export(self, request: Request) -> StreamingHttpResponse:
        """Match history as CSV (the list's filters apply), oldest first, with each alert's
        adjudications. The export is an audit event with its purpose and filters."""
        alerts = self.filter_queryset(self.get_queryset())  # invalid filters: 400 here
        known = AlertFilter.base_filters
        services.alert_export_record(
            actor=acting_user(request),
            purpose=str(request.query_params.get("purpose", "")),
            filters={key: str(value) for key, value in request.query_params.items() if key in known},
            request=request,
        )
        rows = _csv_lines(selectors.alert_export_rows(alerts).iterator(chunk_size=EXPORT_CHUNK_ROWS))
        response = StreamingHttpResponse(streaming_content(request, rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="alerts-{stamp}.csv"'
        return response

    @extend_schema(
        operation_id="alerts_stats",
        filters=False,
        parameters=[OpenApiParameter("days", int, description=f"days back, today included (1-{STATS_DAYS_MAX})")],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def stats(self, request: Request) -> Response:
        """Per zone and day (Asia/Kolkata): alerts, confirmed, dismissed, confirmed rate (of the
        decided ones); cameras online now per zone. Your zones only, unless you see the city."""
        days = forms.IntegerField(min_value=1, max_value=STATS_DAYS_MAX, required=False)
        try:
            value = days.clean(request.query_params.get("days") or None)
        except forms.ValidationError as error:
            raise ValidationError({"days": error.messages}) from None
        return Response(alert_stats_by_zone_day(user=acting_user(request), days=value or STATS_DAYS_DEFAULT))


class SightingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Sighting]):
    """A subject's trail: its sightings in the alerts you may see, in time order (`subject` is
    required; `alert`, `camera` and the time range narrow it)."""

    serializer_class = SightingSerializer
    filterset_class = SightingFilter

    def get_queryset(self) -> QuerySet[Sighting]:
        if getattr(self, "swagger_fake_view", False):
            return Sighting.objects.none()
        return selectors.sighting_list_visible_to(user=acting_user(self.request))


EXPORT_COLUMNS = [
    "id",
    "created_at",
    "status",
    "priority",
    "zone_id",
    "camera_id",
    "camera_code",
    "operation_id",
    "subject_id",
    "subject_name",
    "watchlist_id",
    "watchlist_name",
    "best_score",
    "threshold",
    "model_version",
    "first_seen_at",
    "last_seen_at",
    "sightings_count",
    "assignee",
    "confirmed_by",
    "confirmed_at",
    "verified_by",
    "verified_at",
    "escalated_at",
    "closed_at",
    "probe_purged_at",
    "adjudications",
]


def _export_row(alert: Alert) -> list[Any]:
    def name(user: Any) -> str:
        return user.get_username() if user is not None else ""

    adjudications = [
        {
            "action": a.action,
            "actor": name(a.actor) or "system",
            "at": a.created_at.isoformat(),
            "from": a.from_status,
            "to": a.to_status,
            "reason": a.reason,
        }
        for a in alert.adjudications.all()
    ]
    return [
        alert.pk,
        alert.created_at,
        alert.status,
        alert.priority,
        alert.zone_id,
        alert.camera_id,
        alert.camera.code,
        alert.operation_id,
        alert.subject_id,
        alert.subject.full_name,
        alert.watchlist_id,
        alert.watchlist.name,
        alert.best_score,
        alert.threshold,
        alert.model_version,
        alert.first_seen_at,
        alert.last_seen_at,
        alert.sightings_count,
        name(alert.assignee),
        name(alert.confirmed_by),
        alert.confirmed_at,
        name(alert.verified_by),
        alert.verified_at,
        alert.escalated_at,
        alert.closed_at,
        alert.probe_purged_at,
        json.dumps(adjudications, ensure_ascii=False) if adjudications else "",
    ]


def _csv_lines(alerts: Iterator[Alert]) -> Iterator[str]:
    return csv_lines(EXPORT_COLUMNS, (_export_row(alert) for alert in alerts))
