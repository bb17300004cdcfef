"""Read queries of the evaluation app. Reports hold aggregate figures only (never a face or a
template), so every role reads every report; the calibrations listed with a report are scoped to the
watchlists the reader may see (officers and supervisors: their zones)."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.accounts.models import User
from backend.core.errors import NotFound
from backend.watchlists.models import Watchlist

from .models import EvaluationReport, ThresholdCalibration

# The big columns a list does not need (the figures alone hold thousands of scores).
_HEAVY_FIELDS = ("data", "options", "figures", "det_png")


def reports_list() -> QuerySet[EvaluationReport]:
    """Every report, newest first, without its figures, data or image."""
    return EvaluationReport.objects.select_related("created_by").defer(*_HEAVY_FIELDS)


def report_get(pk: int | str) -> EvaluationReport:
    """One report with everything it holds; NotFound (404) when there is none with this id."""
    try:
        number = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such evaluation report.") from None
    report = EvaluationReport.objects.select_related("created_by").filter(pk=number).first()
    if report is None:
        raise NotFound("No such evaluation report.")
    return report


def calibrations_of_report(report: EvaluationReport, *, user: User | None = None) -> QuerySet[ThresholdCalibration]:
    """The thresholds set from this report, newest first; with `user`, only those of watchlists
    the user may see."""
    calibrations = ThresholdCalibration.objects.filter(report=report).select_related(
        "watchlist__zone", "created_by", "report"
    )
    if user is not None and not user.sees_all_zones:
        calibrations = calibrations.filter(watchlist__zone__members=user)
    return calibrations


def calibration_current(watchlist: Watchlist) -> ThresholdCalibration | None:
    """The calibration that set the watchlist's current threshold; None for the default or a
    threshold set by hand."""
    if watchlist.threshold_calibration_id is None:  # type: ignore[attr-defined]
        return None
    return (
        ThresholdCalibration.objects.select_related("report", "created_by")
        .filter(pk=watchlist.threshold_calibration_id)  # type: ignore[attr-defined]
        .first()
    )
