"""Retention policy API: read by auditors and admins, changed by admins (audited)."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from .models import RetentionPolicy
from .retention import retention_policy_update
from .serializers import RetentionPolicySerializer


class RetentionPolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet[RetentionPolicy]
):
    serializer_class = RetentionPolicySerializer
    queryset = RetentionPolicy.objects.all()
    lookup_field = "data_kind"
    http_method_names = ["get", "patch", "head", "options"]

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = self.get_object()
        serializer = self.get_serializer(policy, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = retention_policy_update(
            data_kind=policy.data_kind,
            retention_days=serializer.validated_data["retention_days"],
            actor=request.user,
            request=request._request,
        )
        return Response(self.get_serializer(policy).data)
