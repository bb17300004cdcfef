"""Zone and camera API: thin views over selectors and services. Zone scoping comes from the
selectors (a camera of another zone is a 404); roles come from the permission matrix."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.permissions import acting_user
from backend.accounts.selectors import zone_list_visible_to
from backend.audit.services import audit_record
from backend.core.errors import ApplicationError
from backend.zones.models import Zone

from . import io, selectors, services
from .models import Camera
from .serializers import (
    CameraImportResultSerializer,
    CameraImportSerializer,
    CameraSerializer,
    PushTokenSerializer,
    ZoneSerializer,
)


class ZoneViewSet(viewsets.ModelViewSet[Zone]):
    serializer_class = ZoneSerializer
    filterset_fields = ["code"]

    def get_queryset(self) -> QuerySet[Zone]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Zone.objects.none()
        return zone_list_visible_to(user=self.request.user)  # type: ignore[arg-type]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        zone = services.zone_create(actor=request.user, request=request, **serializer.validated_data)
        return Response(self.get_serializer(zone).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        zone = self.get_object()
        serializer = self.get_serializer(zone, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        zone = services.zone_update(zone=zone, actor=request.user, request=request, **serializer.validated_data)
        return Response(self.get_serializer(zone).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.zone_delete(zone=self.get_object(), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _FileRenderer(BaseRenderer):
    """Lets `?format=csv|geojson` through DRF's content negotiation for the export; the view
    writes the file itself. Errors (a dict) are written as JSON."""

    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class GeoJSONRenderer(_FileRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class CameraFilter(filters.FilterSet):
    zone_code = filters.CharFilter(field_name="zone__code")
    has_stream = filters.BooleanFilter(method="filter_has_stream", label="Has a stream configured")

    class Meta:
        model = Camera
        fields = ["zone", "kind", "health", "place_category", "group", "enabled", "demo"]

    def filter_has_stream(self, queryset: QuerySet[Camera], name: str, value: bool | None) -> QuerySet[Camera]:
        if value is None:
            return queryset
        none = queryset.filter(stream_kind=Camera.StreamKind.NONE)
        return queryset.exclude(stream_kind=Camera.StreamKind.NONE) if value else none


class CameraViewSet(viewsets.ModelViewSet[Camera]):
    """The camera registry. Everyone with a role reads the cameras of their zones (city-wide
    roles: all); admins create, change, delete, import, export and rotate push tokens."""

    serializer_class = CameraSerializer
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = CameraFilter
    search_fields = ["code", "name", "place"]
    ordering_fields = ["code", "name", "place", "health", "last_frame_at", "created_at"]
    throttle_scope: str | None = None  # set per action (imports and exports are "expensive")

    def get_queryset(self) -> QuerySet[Camera]:
        if getattr(self, "swagger_fake_view", False):
            return Camera.objects.none()
        return selectors.camera_list_visible_to(user=acting_user(self.request))

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # An unknown ?format= of the export is answered by the view (400), not with DRF's 404.
        return super().perform_content_negotiation(request, force=force or self.action == "export")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        camera = services.camera_create(actor=acting_user(request), request=request, **serializer.validated_data)
        return Response(self.get_serializer(camera).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        camera = self.get_object()
        serializer = self.get_serializer(camera, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        camera = services.camera_update(
            camera=camera, actor=acting_user(request), request=request, **serializer.validated_data
        )
        return Response(self.get_serializer(camera).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.camera_delete(camera=self.get_object(), actor=acting_user(request), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(filters=True, responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"], url_path="geojson", pagination_class=None)
    def geojson(self, request: Request) -> Response:
        """The cameras you may see (filtered like the list) as one GeoJSON FeatureCollection, for the map."""
        cameras = self.filter_queryset(self.get_queryset())
        return Response(selectors.cameras_geojson(cameras=cameras))

    @extend_schema(
        filters=True,
        parameters=[OpenApiParameter("format", str, enum=[f.value for f in io.ExportFormat], default="csv")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/geo+json"): OpenApiTypes.OBJECT},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        pagination_class=None,
        renderer_classes=[CSVRenderer, GeoJSONRenderer, JSONRenderer],
        throttle_scope="expensive",
    )
    def export(self, request: Request) -> HttpResponse:
        """The registry (filtered like the list) as CSV or GeoJSON, without stream URLs. Audited."""
        try:
            kind = io.ExportFormat(str(request.query_params.get("format", io.ExportFormat.CSV)))
        except ValueError:
            raise ApplicationError("format must be csv or geojson.", code="invalid_format") from None
        cameras = self.filter_queryset(self.get_queryset())
        rows = list(io.export_rows(cameras))
        if kind == io.ExportFormat.CSV:
            body = io.csv_write(rows)
        else:
            body = json.dumps(io.geojson_write(rows), ensure_ascii=False)
        audit_record(
            action="camera.export",
            request=request,
            object_type="camera",
            summary={"format": kind.value, "count": len(rows)},
        )
        response = HttpResponse(body, content_type=io.CONTENT_TYPES[kind])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="cameras-{stamp}.{kind.value}"'
        return response

    @extend_schema(request=CameraImportSerializer, responses={200: CameraImportResultSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
        throttle_scope="expensive",
    )
    def import_file(self, request: Request) -> Response:
        """Create or update cameras by code from a CSV or GeoJSON file, all or nothing: any
        problem answers 400 with every problem by row, and nothing is written."""
        body = CameraImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        data = upload.read(io.MAX_BYTES + 1)
        kind, rows = io.rows_read(data)
        counts = services.cameras_import(
            rows=rows, actor=acting_user(request), request=request, source=f"{kind.value} upload"
        )
        return Response(CameraImportResultSerializer(counts).data)

    @extend_schema(request=None, responses={200: PushTokenSerializer})
    @action(detail=True, methods=["post"], url_path="push-token")
    def push_token(self, request: Request, pk: str | None = None) -> Response:
        """A new push token for this camera (the old one stops working). The key is shown once."""
        camera = self.get_object()
        key = services.camera_push_token_rotate(camera=camera, actor=acting_user(request), request=request)
        response = Response(PushTokenSerializer({"camera": camera.pk, "key": key, "prefix": key[:8]}).data)
        response["Cache-Control"] = "no-store"
        return response
