"""The alert page (/alerts/<id>/): one alert for the officer who opens it from a link on a phone,
or on the control-room screen. The page reads the alert through the same scoped selector as the
API (another zone's alert is a 404 here too) and renders what does not change; alert-page.js
fetches the alert from the API and draws its status, the two-person rule, the actions the role
may take, the adjudication history, the images (after a purpose) and the subject's sighting trail.
Every change goes through the API, which decides again (role, zone, state, two people)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from backend.accounts.permissions import is_allowed, page_allowed
from backend.alerts.selectors import alert_list_visible_to

ACTIONS = ("acknowledge", "confirm", "verify", "dismiss", "escalate")


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not page_allowed(request):
        raise PermissionDenied
    user = request.user
    alert = (
        alert_list_visible_to(user=user)  # type: ignore[arg-type]
        .select_related("operation")
        .filter(pk=pk)
        .first()
    )
    if alert is None:
        raise Http404("No such alert in your zones.")
    # The buttons the role may use (the matrix); the alert's state narrows them in the page, and
    # the API refuses what the rules do not allow (its message is shown).
    allowed = [verb for verb in ACTIONS if is_allowed(user, f"api:alert-{verb}", "POST")]
    context = {
        "alert": alert,
        "api_url": reverse("api:alert-detail", kwargs={"pk": alert.pk}),
        "sightings_url": reverse("api:sighting-list"),
        "evidence_url": reverse("api:alert-evidence", kwargs={"pk": alert.pk})
        if is_allowed(user, "api:alert-evidence", "POST")
        else "",
        "allowed_actions": " ".join(allowed),
        "can_view_images": is_allowed(user, "api:alert-probe", "POST"),
        "tile_url": getattr(settings, "MAP_TILE_URL", ""),
        "tile_attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", ""),
        "margin": alert.best_score - alert.threshold,
    }
    return render(request, "dashboard/alert_detail.html", context)
