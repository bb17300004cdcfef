"""The one DRF exception handler: domain errors and DRF's own errors become JSON with a code and
a message; anything unexpected is logged with a request id and answered with a generic 500 that
echoes no exception text."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .errors import ApplicationError

logger = logging.getLogger(__name__)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        body: dict[str, object] = {"code": exc.code, "message": exc.message, **exc.extra}
        return Response(body, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is not None:
        detail = response.data
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict) and set(detail) == {"detail"}:
            response.data = {"code": code, "message": str(detail["detail"])}
        else:
            response.data = {"code": code, "message": "The request was not valid.", "errors": detail}
        return response
    error_id = uuid.uuid4().hex[:12]
    view = context.get("view")
    logger.exception("unhandled API error id=%s view=%s", error_id, type(view).__name__ if view else "-")
    return Response(
        {
            "code": "server_error",
            "message": f"Something went wrong on our side (error id {error_id}).",
            "error_id": error_id,
        },
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
