"""Dashboard pages. Each page checks the permission matrix like the API does."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.permissions import page_allowed


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    return render(request, "dashboard/home.html", {"tile_url": getattr(settings, "MAP_TILE_URL", "")})
