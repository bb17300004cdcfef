"""Zone API: thin views over selectors and services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.selectors import zone_list_visible_to

from . import services
from .models import Zone
from .serializers import ZoneSerializer


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
