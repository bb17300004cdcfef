"""Operation pages: the list with a status filter and the request form, and one operation's page
(what it covers, its window, who asked and who authorised, and the actions). Pages read through
the operations selectors (an operation outside your zones is a 404 here too); every change is made
by operations.js through the API, which checks role, zone and the two-person rule again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from backend.accounts.permissions import is_allowed, page_allowed
from backend.accounts.selectors import zone_list_visible_to
from backend.operations.models import Operation
from backend.operations.selectors import camera_list_visible_to, operation_cameras, operation_list_visible_to
from backend.watchlists.selectors import watchlist_list_visible_to

PAGE_SIZE = 50


def _allowed(request: HttpRequest) -> None:
    if not page_allowed(request):
        raise PermissionDenied


def _can(request: HttpRequest, route: str) -> bool:
    return is_allowed(request.user, route, "POST")


@login_required
def operation_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    user = request.user
    operations = operation_list_visible_to(user=user)  # type: ignore[arg-type]
    status = request.GET.get("status", "")
    if status in Operation.Status.values:
        operations = operations.filter(status=status)
    page = Paginator(operations.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    can_request = _can(request, "api:operation-list")
    groups = (
        camera_list_visible_to(user=user)  # type: ignore[arg-type]
        .exclude(group="")
        .order_by("group")
        .values_list("group", flat=True)
        .distinct()
        if can_request
        else []
    )
    return render(
        request,
        "dashboard/operations.html",
        {
            "page": page,
            "status": status,
            "statuses": Operation.Status.choices,
            "can_request": can_request,
            "zones": zone_list_visible_to(user=user).order_by("name") if can_request else [],  # type: ignore[arg-type]
            "groups": list(groups),
            "watchlists": watchlist_list_visible_to(user=user).filter(active=True).select_related("zone")  # type: ignore[arg-type]
            if can_request
            else [],
        },
    )


@login_required
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    user = request.user
    operation = operation_list_visible_to(user=user).filter(pk=pk).first()  # type: ignore[arg-type]
    if operation is None:
        raise Http404("No such operation in your zones.")
    now = timezone.now()
    status = operation.status
    S = Operation.Status
    in_window = operation.starts_at <= now < operation.ends_at
    return render(
        request,
        "dashboard/operation_detail.html",
        {
            "operation": operation,
            "camera_count": operation_cameras(operation=operation).count(),
            "city_wide": operation.zone_id is None,
            "is_requester": operation.requested_by_id == user.pk,
            "in_window": in_window,
            "now": now,
            # Role and status decide which buttons show; the service decides the rest (zone, the
            # two-person rule) and its refusal is shown as a sentence.
            "can_authorise": status == S.REQUESTED and _can(request, "api:operation-authorise"),
            "can_reject": status == S.REQUESTED and _can(request, "api:operation-reject"),
            "can_start": status == S.AUTHORISED and _can(request, "api:operation-start"),
            "can_end": status in (S.AUTHORISED, S.ACTIVE) and _can(request, "api:operation-end"),
        },
    )
