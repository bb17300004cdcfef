"""Plain Django views of the core app."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import system_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Public liveness/readiness for load balancers and `make run`: 200 only when every part is
    healthy, 503 naming the failing parts otherwise. Reveals versions and model names, no secrets."""
    report = system_health()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
