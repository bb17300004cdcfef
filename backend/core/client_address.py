"""The caller's address, from one setting that describes the deployment: TRUSTED_PROXY_COUNT, the
number of reverse proxies between the client and Daphne (FR_TRUSTED_PROXIES).

Everything that keys on the caller's address takes it from here, so a forged X-Forwarded-For
cannot make one caller look like many (login throttling, lockout) or like the server itself
(/metrics' loopback rule):
- ClientAddressMiddleware (first in MIDDLEWARE) writes it into REMOTE_ADDR, which the audit `ip`
  field and the /metrics loopback check read;
- django-axes' lockout calls `client_address` (AXES_CLIENT_IP_CALLABLE);
- DRF's throttling applies the same rule itself (REST_FRAMEWORK NUM_PROXIES = the same count).

Daphne runs without --proxy-headers: it would take the left-most X-Forwarded-For entry, which
the client writes. With N trusted proxies, each appends the address it received the request from,
so the N-th entry from the right was written by our outermost proxy: that is the client. With
none, X-Forwarded-For is the client's own text and is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PEER_KEY = "FR_PEER_ADDR"  # the TCP peer Daphne saw, kept in request.META for diagnosis


def client_address(request: HttpRequest | Any) -> str:
    """The client's address under the configured proxy count (the rule DRF's NUM_PROXIES uses)."""
    meta = request.META
    peer = str(meta.get(PEER_KEY) or meta.get("REMOTE_ADDR") or "")
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    if count == 0 or not forwarded:
        return peer
    entries = [entry.strip() for entry in forwarded.split(",")]
    return entries[-min(count, len(entries))] or peer


class ClientAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.setdefault(PEER_KEY, request.META.get("REMOTE_ADDR", ""))
        request.META["REMOTE_ADDR"] = client_address(request)
        return self.get_response(request)
