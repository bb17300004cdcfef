"""`/healthz`, assembled at the project level: which parts must be up, and how each is checked.

The checks themselves are in backend/core/health.py; the Triton check is given the inference
client's circuit-breaker state from `backend.faces`, which core may not import."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backend.core.health import CheckResult, check_celery, check_database, check_redis, check_triton, health_run
from backend.faces.inference_client import get_client


def inference_breaker_state() -> str:
    """State of this process's inference circuit breaker (closed / open / half_open)."""
    return str(get_client().breaker.state)


def system_checks() -> dict[str, Callable[[], CheckResult]]:
    return {
        "database": check_database,
        "redis": lambda: check_redis(f"{settings.REDIS_URL}/0"),
        "triton": lambda: check_triton(
            settings.TRITON_URL, settings.TRITON_REQUIRED_MODELS, breaker_state=inference_breaker_state
        ),
        "celery": check_celery,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Public liveness/readiness for load balancers and `make run`: 200 only when every part is
    healthy, 503 naming the failing parts otherwise. Reveals versions and model names, no secrets."""
    report = health_run(system_checks())
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
