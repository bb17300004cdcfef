"""Watchlist pages for officers, supervisors and auditors. Pages read through the same scoped
selectors as the API (another zone's listing is a 404 here too); every change is made by the page's
script through the API, which checks role, zone and the two-person rule again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from backend.accounts.permissions import is_allowed, page_allowed
from backend.accounts.roles import Role
from backend.accounts.selectors import zone_list_visible_to
from backend.faces.thresholds import MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD
from backend.watchlists.models import Subject, Watchlist
from backend.watchlists.selectors import photo_list_visible_to, subject_list_visible_to, watchlist_list_visible_to

PAGE_SIZE = 50


def _allowed(request: HttpRequest) -> None:
    if not page_allowed(request):
        raise PermissionDenied


def _can(request: HttpRequest, route: str, method: str = "POST") -> bool:
    return is_allowed(request.user, route, method)


@login_required
def watchlist_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    now = timezone.now()
    watchlists = (
        watchlist_list_visible_to(user=request.user)  # type: ignore[arg-type]
        .annotate(
            matching=Count("subjects", filter=Q(subjects__status="active", subjects__expires_at__gt=now)),
            pending=Count("subjects", filter=Q(subjects__status="pending")),
        )
        .order_by("zone__name", "priority", "name")
    )
    return render(
        request,
        "dashboard/watchlists.html",
        {
            "watchlists": watchlists,
            "can_create": _can(request, "api:watchlist-list"),
            "can_import": _can(request, "api:watchlist-bulk-import"),
            "zones": zone_list_visible_to(user=request.user),  # type: ignore[arg-type]
            "categories": Watchlist.Category.choices,
            "threshold_bounds": (MIN_MATCH_THRESHOLD, MAX_MATCH_THRESHOLD),
        },
    )


@login_required
def subject_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    subjects = subject_list_visible_to(user=request.user)  # type: ignore[arg-type]
    query = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "")
    watchlist = request.GET.get("watchlist", "")
    if query:
        subjects = subjects.filter(
            Q(full_name__icontains=query) | Q(case_reference__icontains=query) | Q(aliases__icontains=query)
        )
    if status in Subject.Status.values:
        subjects = subjects.filter(status=status)
    if watchlist.isdigit():
        subjects = subjects.filter(watchlist_id=int(watchlist))
    page = Paginator(subjects.order_by("expires_at" if status == "pending" else "-created_at"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "dashboard/subjects.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "watchlist": watchlist,
            "statuses": Subject.Status.choices,
            "watchlists": watchlist_list_visible_to(user=request.user),  # type: ignore[arg-type]
            "can_create": _can(request, "api:subject-list"),
            "is_supervisor": getattr(request.user, "role", None) == Role.SUPERVISOR,
            "now": timezone.now(),
        },
    )


@login_required
def subject_new(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    watchlists = watchlist_list_visible_to(user=request.user).filter(active=True)  # type: ignore[arg-type]
    return render(request, "dashboard/subject_new.html", {"watchlists": watchlists})


@login_required
def subject_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    subject = subject_list_visible_to(user=request.user).filter(pk=pk).first()  # type: ignore[arg-type]
    if subject is None:
        raise Http404("No such listing in your zones.")
    user = request.user
    is_supervisor = getattr(user, "role", None) == Role.SUPERVISOR
    return render(
        request,
        "dashboard/subject_detail.html",
        {
            "subject": subject,
            "photos": photo_list_visible_to(user=user).filter(subject=subject),  # type: ignore[arg-type]
            "now": timezone.now(),
            "can_edit": _can(request, "api:subject-detail", "PATCH") and subject.status != "removed",
            "can_add_photo": _can(request, "api:subjectphoto-list") and subject.status not in ("removed", "expired"),
            "can_submit": _can(request, "api:subject-submit") and subject.status == "draft",
            "can_approve": is_supervisor and subject.status == "pending" and subject.created_by_id != user.pk,
            "own_pending": is_supervisor and subject.status == "pending" and subject.created_by_id == user.pk,
            "can_remove": _can(request, "api:subject-remove") and subject.status != "removed",
            "can_view_photos": _can(request, "api:subjectphoto-image", "POST"),
        },
    )


@login_required
def watchlist_import(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    watchlist = watchlist_list_visible_to(user=request.user).filter(pk=pk).first()  # type: ignore[arg-type]
    if watchlist is None:
        raise Http404("No such watchlist in your zones.")
    return render(request, "dashboard/watchlist_import.html", {"watchlist": watchlist})
