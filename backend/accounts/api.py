"""Account API: who am I, API tokens, and user administration (admins)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.errors import ApplicationError

from . import selectors, services
from .models import AccountChange, ApiToken, User
from .permissions import acting_user
from .roles import Role
from .serializers import (
    AccountChangeSerializer,
    ApiTokenCreatedSerializer,
    ApiTokenSerializer,
    MeSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    UserSerializer,
)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(acting_user(request)).data)


class TokenView(APIView):
    """POST: exchange credentials (and the one-time code, where the role needs one) for a personal
    API token valid 30 days. DELETE: revoke the token this request is made with (or, from a
    session, all of your personal tokens)."""

    throttle_scope = "login"

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or getattr(user, "role", None) is None:
            raise ApplicationError("Wrong username or password.", code="invalid_credentials")
        token, key = services.api_token_issue(
            user=user,
            purpose=ApiToken.Purpose.USER,
            actor=user,
            name="personal (API login)",
            request=request._request,
            otp_code=data.get("otp", ""),
        )
        return Response({"token": key, "expires_at": token.expires_at})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        current = request.auth if isinstance(request.auth, ApiToken) else None
        targets = (
            [current]
            if current
            else list(
                ApiToken.objects.filter(
                    user=acting_user(request), purpose=ApiToken.Purpose.USER, revoked_at__isnull=True
                )
            )
        )
        for token in targets:
            services.api_token_revoke(token=token, actor=acting_user(request), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """Tokens you hold (admins: all tokens). Admins issue service and camera-push tokens for a
    service account; DELETE revokes (the row stays, for the audit trail)."""

    serializer_class = ApiTokenSerializer
    filterset_fields = ["purpose", "user__username"]

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        tokens = ApiToken.objects.select_related("user")
        user = acting_user(self.request)
        return tokens if user.role == Role.ADMIN else tokens.filter(user=user)

    @extend_schema(responses={201: ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = acting_user(request)
        token, key = services.api_token_issue(
            user=data.get("user") or actor,
            purpose=data["purpose"],
            name=data.get("name", ""),
            actor=actor,
            request=request._request,
            otp_code=data.get("otp", ""),
        )
        body = ApiTokenSerializer(token).data | {"key": key}
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.api_token_revoke(token=self.get_object(), actor=acting_user(request), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(viewsets.ModelViewSet[User]):
    """Accounts. A role that reads faces or administers accounts, another user's new password and
    another user's second-factor reset are asked for here and applied only when a second admin
    approves them (/account-changes/); the response lists what waits (`pending_changes`)."""

    serializer_class = UserSerializer
    filterset_fields = ["is_active"]

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list()

    def _body(self, user: User) -> dict[str, Any]:
        pending = AccountChange.objects.filter(user=user, status=AccountChange.Status.PENDING)
        return dict(self.get_serializer(user).data) | {
            "pending_changes": AccountChangeSerializer(pending, many=True).data
        }

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not data.get("password"):
            raise ApplicationError("A password is required.", code="password_required")
        user = services.user_create(
            role=Role(data.pop("role")), actor=acting_user(request), request=request._request, **data
        )  # type: ignore[arg-type]
        return Response(self._body(user), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self.get_object()
        serializer = self.get_serializer(user, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("username", None)  # usernames are stable: audit records name them
        role = data.pop("role", None)
        user = services.user_update(
            user=user,
            actor=acting_user(request),
            request=request._request,
            role=Role(role) if role else None,
            **data,  # type: ignore[arg-type]
        )
        return Response(self._body(user))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.user_deactivate(user=self.get_object(), actor=acting_user(request), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: AccountChangeSerializer})
    @action(detail=True, methods=["post"], url_path="reset-2fa", url_name="reset-2fa")
    def reset_second_factor(self, request: Request, pk: str | None = None) -> Response:
        change = services.user_second_factor_reset(
            user=self.get_object(), actor=acting_user(request), request=request._request
        )  # type: ignore[arg-type]
        return Response(AccountChangeSerializer(change).data, status=status.HTTP_202_ACCEPTED)


class AccountChangeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[AccountChange]):
    """Account changes waiting for (or decided by) a second admin: role grants, passwords set by an
    admin, second-factor resets. Approve applies the change; neither the requester nor the
    account's own user can approve."""

    serializer_class = AccountChangeSerializer
    filterset_fields = ["status", "kind"]

    def get_queryset(self) -> QuerySet[AccountChange]:
        return AccountChange.objects.select_related("user", "requested_by", "decided_by")

    @extend_schema(request=None, responses={200: AccountChangeSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        change = services.account_change_approve(
            change=self.get_object(), actor=acting_user(request), request=request._request
        )
        return Response(AccountChangeSerializer(change).data)

    @extend_schema(request=None, responses={200: AccountChangeSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        change = services.account_change_reject(
            change=self.get_object(), actor=acting_user(request), request=request._request
        )
        return Response(AccountChangeSerializer(change).data)
