"""Dashboard pages. Each page checks the permission matrix like the API does."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from backend.accounts.permissions import is_allowed, page_allowed


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    user = request.user
    # The alert panel is drawn only for roles that may list alerts; its buttons only where the
    # matrix allows the action (the API checks again on every call).
    can_list_alerts = is_allowed(user, "api:alert-list", "GET")
    context = {
        "tile_url": getattr(settings, "MAP_TILE_URL", ""),
        "tile_attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", ""),
        "cameras_url": reverse("api:camera-geojson"),
        "alerts_url": reverse("api:alert-list") if can_list_alerts else "",
        "can_acknowledge": is_allowed(user, "api:alert-acknowledge", "POST"),
        "can_view_images": is_allowed(user, "api:alert-probe", "POST"),
    }
    return render(request, "dashboard/home.html", context)
