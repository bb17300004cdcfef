"""HTTP push of frames: `POST /api/v1/cameras/{id}/frames` with the camera's own token.

The body is one JPEG (Content-Type image/jpeg). Optional headers: `X-Captured-At` (Unix seconds;
default: arrival time) and, for vehicle cameras, `X-Latitude` / `X-Longitude`. Answers:
202 queued; 401 wrong or missing token (audited within a budget, counted beyond it:
backend/audit/refusals.py); 409 no active
operation covers the camera; 413 too large; 415 not a JPEG; 429 shedding load (Retry-After);
503 the frame store (Redis) is away."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit.refusals import audit_refusal
from backend.cameras.health import camera_health_update
from backend.cameras.models import Camera
from backend.cameras.services import push_token_matches
from backend.core.live_state import live_redis

from .context import camera_context
from .intake import frame_submit

logger = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
CLOCK_SKEW_S = 300  # a camera clock this far off is not trusted: arrival time is used instead
HEALTH_REPORT_EVERY_S = 5


def _refusal(status_code: int, code: str, message: str, **headers: str) -> Response:
    return Response({"code": code, "message": message}, status=status_code, headers=headers or None)


class FramePushView(APIView):
    # The camera's token is checked here (camera-scoped, not a user): no session, no CSRF, and the
    # matrix opens the route to anonymous callers for that reason.
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []  # load is shed by the frame queue, with Retry-After

    @extend_schema(
        operation_id="camera_frame_push",
        request={"image/jpeg": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter("X-Captured-At", float, OpenApiParameter.HEADER, description="Unix seconds"),
            OpenApiParameter("X-Latitude", float, OpenApiParameter.HEADER, description="vehicle cameras"),
            OpenApiParameter("X-Longitude", float, OpenApiParameter.HEADER, description="vehicle cameras"),
        ],
        responses={
            202: inline_serializer("FrameAccepted", {"frame_id": drf_serializers.CharField()}),
            401: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            413: OpenApiTypes.OBJECT,
            415: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
        },
        auth=[],
    )
    def post(self, request: Request, camera_id: int) -> Response:
        key = _bearer(request)
        # The camera and its operations from the per-process cache (context.py): a push costs no
        # database query. A token rotation or a disabled camera invalidates it at once.
        context = camera_context(camera_id)
        camera = context.camera if context.camera is not None and push_token_matches(context.camera, key) else None
        if camera is None or camera.stream_kind != Camera.StreamKind.PUSH:
            _refusal_audit(request, camera_id, reason="missing token" if not key else "wrong token or camera")
            return _refusal(401, "invalid_push_token", "The camera's push token is missing or wrong.")
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.FRAME_MAX_BYTES:
            return _refusal(413, "frame_too_large", f"A frame may be at most {settings.FRAME_MAX_BYTES} bytes.")
        body = request.body
        if len(body) > settings.FRAME_MAX_BYTES:
            return _refusal(413, "frame_too_large", f"A frame may be at most {settings.FRAME_MAX_BYTES} bytes.")
        if not body.startswith(JPEG_MAGIC):
            return _refusal(415, "not_jpeg", "The body must be one JPEG image.")
        if not context.operations:
            return _refusal(409, "no_active_operation", "No active operation covers this camera.")
        now = time.time()
        captured_at = _float_header(request, "HTTP_X_CAPTURED_AT")
        if captured_at is None or abs(captured_at - now) > CLOCK_SKEW_S:
            captured_at = now
        latitude = _float_header(request, "HTTP_X_LATITUDE")
        longitude = _float_header(request, "HTTP_X_LONGITUDE")
        try:
            submission = frame_submit(
                camera_id=camera.pk,
                jpeg=body,
                captured_at=captured_at,
                sample_fps=camera.sample_fps,
                source="push",
                latitude=latitude,
                longitude=longitude,
            )
        except redis.RedisError:
            logger.warning("frame store unavailable for camera %s", camera.pk)
            return _refusal(503, "frame_store_unavailable", "Frames cannot be accepted right now; try again later.")
        _health_report(camera, latitude, longitude)
        if not submission.accepted:
            retry = str(max(1, math.ceil(submission.retry_after_s)))
            message = "Too many frames: this camera sends faster than it is sampled, or the system is shedding load."
            return _refusal(429, f"shed_{submission.reason}", message, **{"Retry-After": retry})
        return Response({"frame_id": submission.frame_id}, status=status.HTTP_202_ACCEPTED)


def _bearer(request: Request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _float_header(request: Request, name: str) -> float | None:
    try:
        value = float(request.META.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _refusal_audit(request: Request, camera_id: int, *, reason: str) -> None:
    """A refused push is audited in detail at most once a minute per camera id and within the
    per-source and per-minute budgets, and counted beyond them (one summary event a minute), so a
    misconfigured or hostile sender cannot flood the chain, whatever ids it tries."""
    camera = Camera.objects.filter(pk=camera_id).select_related("zone").first()
    audit_refusal(
        action="camera.push_refused",
        key=f"camera {camera_id}" if camera is not None else "(no such camera)",
        request=request,
        object_type="camera",
        object_id=str(camera_id),
        zone=camera.zone if camera is not None else None,
        summary={"reason": reason if camera is not None else "no such camera"},
        once_per_key=True,
    )


def _health_report(camera: Camera, latitude: float | None, longitude: float | None) -> None:
    """Pushed frames say the camera is online (the row is written at most every few seconds)."""
    moved = camera.kind == Camera.Kind.VEHICLE and latitude is not None and longitude is not None
    # The live-state Redis (one pool per process), not Django's cache: under ASGI each request
    # runs in a thread of its own, and Django's cache client is per thread (a new connection).
    if moved or live_redis().set(f"push-health:{camera.pk}", b"1", ex=HEALTH_REPORT_EVERY_S, nx=True):
        camera_health_update(
            camera_id=camera.pk,
            health=Camera.Health.ONLINE,
            frame_at=timezone.now(),
            latitude=latitude,
            longitude=longitude,
        )
