"""Operations API: thin views over selectors and services. Zone scoping comes from the selectors (an
operation that touches none of your zones is a 404); roles come from the permission matrix; who
may authorise, start or end a given operation is the service's rule."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.permissions import acting_user
from backend.zones.models import Zone

from . import selectors, services
from .models import Operation
from .serializers import (
    CoveredCameraSerializer,
    OperationDetailSerializer,
    OperationEndSerializer,
    OperationReasonSerializer,
    OperationSerializer,
    OperationWriteSerializer,
)


class OperationFilter(filters.FilterSet):
    zone = filters.ModelChoiceFilter(
        queryset=Zone.objects.all(), method="filter_zone", help_text="Operations that touch this zone."
    )

    class Meta:
        model = Operation
        fields = ["status", "demo"]

    def filter_zone(self, queryset: QuerySet[Operation], name: str, value: Zone) -> QuerySet[Operation]:
        return queryset.filter(pk__in=selectors.operations_touching_zones(zone_ids=[value.pk]).values("pk"))


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Operation]):
    """Authorised deployments. No DELETE: a request is rejected or an operation ended, and the
    record stays."""

    serializer_class = OperationSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = OperationFilter
    search_fields = ["name", "authority_reference"]
    ordering_fields = ["starts_at", "ends_at", "created_at"]

    def get_queryset(self) -> QuerySet[Operation]:
        if getattr(self, "swagger_fake_view", False):
            return Operation.objects.none()
        return selectors.operation_list_visible_to(user=acting_user(self.request))

    def get_serializer_class(self) -> type[Any]:
        if self.action in ("create", "partial_update"):
            return OperationWriteSerializer
        if self.action == "list":
            return OperationSerializer
        if self.action == "cameras":
            return CoveredCameraSerializer
        return OperationDetailSerializer

    def _render(self, operation: Operation) -> dict[str, Any]:
        fresh = self.get_queryset().get(pk=operation.pk)
        return OperationDetailSerializer(fresh, context=self.get_serializer_context()).data  # type: ignore[no-any-return]

    @extend_schema(request=OperationWriteSerializer, responses={201: OperationDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation = services.operation_request(actor=acting_user(request), request=request, **serializer.validated_data)
        return Response(self._render(operation), status=status.HTTP_201_CREATED)

    @extend_schema(request=OperationWriteSerializer, responses=OperationDetailSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        operation = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        operation = services.operation_update(
            operation=operation, actor=acting_user(request), request=request, **serializer.validated_data
        )
        return Response(self._render(operation))

    @extend_schema(request=None, responses=OperationDetailSerializer)
    @action(detail=True, methods=["post"])
    def authorise(self, request: Request, pk: str | None = None) -> Response:
        operation = services.operation_authorise(
            operation=self.get_object(), actor=acting_user(request), request=request
        )
        return Response(self._render(operation))

    @extend_schema(request=OperationReasonSerializer, responses=OperationDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        body = OperationReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        operation = services.operation_reject(
            operation=self.get_object(),
            actor=acting_user(request),
            reason=body.validated_data["reason"],
            request=request,
        )
        return Response(self._render(operation))

    @extend_schema(request=None, responses=OperationDetailSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        operation = services.operation_start(operation=self.get_object(), actor=acting_user(request), request=request)
        return Response(self._render(operation))

    @extend_schema(request=OperationEndSerializer, responses=OperationDetailSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        body = OperationEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        operation = services.operation_end(
            operation=self.get_object(),
            actor=acting_user(request),
            reason=body.validated_data["reason"],
            request=request,
        )
        return Response(self._render(operation))

    @extend_schema(responses=CoveredCameraSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def cameras(self, request: Request, pk: str | None = None) -> Response:
        """The cameras the operation covers, within the zones you may see (the count in the detail
        is of all of them)."""
        operation = self.get_object()
        visible = selectors.camera_list_visible_to(user=acting_user(request)).values("pk")
        cameras = selectors.operation_cameras(operation=operation).filter(pk__in=visible)
        page = self.paginate_queryset(cameras)  # type: ignore[arg-type]
        serializer = CoveredCameraSerializer(page, many=True)  # type: ignore[arg-type]
        return self.get_paginated_response(serializer.data)
