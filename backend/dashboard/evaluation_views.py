"""Evaluation report pages (every role): the list, one report rendered (its header, whether its
content still verifies, every section of its figures, the DET curve, the thresholds set from it),
and its downloads as Markdown and as a standalone HTML file. Supervisors also get a form that
previews and applies a calibration of one of their watchlists; evaluation.js sends it to the API,
which checks role and zone again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.permissions import is_allowed, page_allowed
from backend.core.errors import NotFound
from backend.evaluation.models import EvaluationReport
from backend.evaluation.render import duration_text, report_html, report_markdown, report_sections, sections_html
from backend.evaluation.selectors import calibrations_of_report, report_get, reports_list
from backend.evaluation.services import TARGET_FPIR_MAX, TARGET_FPIR_MIN, report_export_record, report_verify
from backend.watchlists.selectors import watchlist_list_visible_to

PAGE_SIZE = 50


def _allowed(request: HttpRequest) -> None:
    if not page_allowed(request):
        raise PermissionDenied


def _report(pk: int) -> EvaluationReport:
    try:
        return report_get(pk)
    except NotFound:
        raise Http404("No such evaluation report.") from None


@login_required
def evaluation_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    page = Paginator(reports_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/evaluation_list.html", {"page": page})


@login_required
def evaluation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    report = _report(pk)
    user = request.user
    can_calibrate = is_allowed(user, "api:watchlist-calibrate", "POST")
    calibratable = report.kind == EvaluationReport.Kind.IMAGES and "non_mated_tail" in (report.figures or {})
    watchlists = (
        watchlist_list_visible_to(user=user).filter(active=True).order_by("zone__name", "name")  # type: ignore[arg-type]
        if can_calibrate and calibratable
        else []
    )
    return render(
        request,
        "dashboard/evaluation_detail.html",
        {
            "report": report,
            "verified": report_verify(report),
            "duration": duration_text(report.duration_s),
            "has_det": bool(report.det_png),
            "sections": sections_html(report_sections(report)),
            "calibrations": calibrations_of_report(report, user=user),  # type: ignore[arg-type]
            "can_calibrate": can_calibrate,
            "calibratable": calibratable,
            "watchlists": watchlists,
            "fpir_bounds": (f"{TARGET_FPIR_MIN:g}", f"{TARGET_FPIR_MAX:g}"),
        },
    )


def _download(body: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


EXPORTS = {
    "markdown": (report_markdown, "text/markdown; charset=utf-8", "md"),
    "html": (report_html, "text/html; charset=utf-8", "html"),
}


@login_required
def evaluation_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "markdown")


@login_required
def evaluation_html(request: HttpRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "html")


def _export(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    """The report as a file to keep (audited: every export is)."""
    _allowed(request)
    report = _report(pk)
    render_report, content_type, suffix = EXPORTS[file_format]
    report_export_record(report=report, actor=request.user, file_format=file_format, request=request)  # type: ignore[arg-type]
    return _download(
        render_report(report), content_type=content_type, filename=f"evaluation-report-{report.pk}.{suffix}"
    )
