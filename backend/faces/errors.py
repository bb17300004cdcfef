"""Errors of the inference client, in the project's one ApplicationError family.

The API exception handler maps them like any other domain error (status code + stable code, never
the exception text), so a view that enrols a photo can let them propagate.
"""

from __future__ import annotations

from backend.core.errors import ApplicationError, ServiceUnavailable


class InferenceError(ApplicationError):
    """Triton answered, but not in the shape our model contract promises (a deployment bug)."""

    status_code = 502
    code = "inference_error"


class InferenceUnavailable(ServiceUnavailable):
    """Triton could not be reached in time (down, timed out, model not ready, or circuit open).

    Transient by nature: the client has already retried; a task may retry later, a frame is dropped.
    """

    code = "inference_unavailable"


class InvalidImage(ApplicationError):
    """The server refused these bytes as an image (empty, not JPEG/PNG, truncated, too large).

    Retrying the same bytes cannot help, so the client neither retries nor counts it against the
    circuit breaker.
    """

    status_code = 400
    code = "invalid_image"
