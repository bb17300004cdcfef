"""One error family for domain rules. Services raise these; the API exception handler maps them
to responses with a stable code and a message written for the user (never exception text)."""

from __future__ import annotations


class ApplicationError(Exception):
    """A domain rule said no. `message` is shown to the user; `code` is stable for clients."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    """An outside service (Triton, the database, Redis) is down; the caller may retry later."""

    status_code = 503
    code = "service_unavailable"
