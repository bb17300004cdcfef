"""Account API: who am I, API tokens, and user administration (admins)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.errors import ApplicationError

from . import selectors, services
from .models import User
from .roles import Role
from .serializers import MeSerializer, TokenRequestSerializer, TokenResponseSerializer, UserSerializer


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class TokenView(APIView):
    """POST: exchange credentials for an API token. DELETE: revoke your own token."""

    authentication_classes = APIView.authentication_classes

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request._request, **serializer.validated_data)
        if user is None or getattr(user, "role", None) is None:
            raise ApplicationError("Wrong username or password.", code="invalid_credentials")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(viewsets.ModelViewSet[User]):
    serializer_class = UserSerializer
    filterset_fields = ["is_active"]

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not data.get("password"):
            raise ApplicationError("A password is required.", code="password_required")
        user = services.user_create(role=Role(data.pop("role")), **data)
        return Response(self.get_serializer(user).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self.get_object()
        serializer = self.get_serializer(user, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("username", None)  # usernames are stable: audit records name them
        role = data.pop("role", None)
        user = services.user_update(user=user, role=Role(role) if role else None, **data)
        return Response(self.get_serializer(user).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.user_deactivate(user=self.get_object(), actor=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
