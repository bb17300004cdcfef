"""Plain Django views of the core app."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import metrics_render

LOOPBACK = {"127.0.0.1", "::1"}


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition. With METRICS_TOKEN set, a matching `Authorization: Bearer` is
    required; without it only loopback callers are answered (a scraper on the same host)."""
    if settings.METRICS_TOKEN:
        scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        allowed = scheme.lower() == "bearer" and hmac.compare_digest(key.strip(), settings.METRICS_TOKEN)
    else:
        allowed = request.META.get("REMOTE_ADDR", "") in LOOPBACK
    if not allowed:
        return HttpResponse("metrics: forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)
