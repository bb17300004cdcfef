"""What changes state in the evaluation app: storing a report, and setting a watchlist's threshold
from one. Both are audited in the same transaction as the write."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from backend.accounts.models import User
from backend.audit.services import audit_record
from backend.core.errors import ApplicationError
from backend.faces.thresholds import MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD
from backend.watchlists.models import FaceTemplate, Subject, Watchlist
from backend.watchlists.services import SUPERVISORS, writer_check, zone_check

from .models import EvaluationReport, ThresholdCalibration
from .stats import ScoreTail, gallery_threshold

# The FPIR targets a supervisor may calibrate for: 1 in 100 faces of a stranger alerting is the
# loosest a control room can bear; below 1 in 100,000 no data set we hold can resolve the rate.
TARGET_FPIR_MIN = 1e-5
TARGET_FPIR_MAX = 1e-2


def report_content_hash(*, kind: str, model_version: str, data: Any, options: Any, figures: Any, det_png: bytes) -> str:
    """SHA-256 over the report's content in a canonical form (sorted keys, no spaces)."""
    digest = hashlib.sha256()
    canonical = json.dumps(
        {"kind": kind, "model_version": model_version, "data": data, "options": options, "figures": figures},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    digest.update(canonical.encode())
    digest.update(hashlib.sha256(det_png).digest())
    return digest.hexdigest()


@transaction.atomic
def report_store(
    *,
    kind: str,
    title: str,
    model_version: str,
    data: dict[str, Any],
    options: dict[str, Any],
    figures: dict[str, Any],
    det_png: bytes,
    duration_s: float,
    actor: User | None = None,
) -> EvaluationReport:
    # Round-trip through JSON first, so the stored value and the hashed value are the same thing.
    data, options, figures = (json.loads(json.dumps(value, default=str)) for value in (data, options, figures))
    sha256 = report_content_hash(
        kind=kind, model_version=model_version, data=data, options=options, figures=figures, det_png=det_png
    )
    report = EvaluationReport.objects.create(
        kind=kind,
        title=title[:200],
        model_version=model_version,
        data=data,
        options=options,
        figures=figures,
        det_png=det_png,
        duration_s=round(duration_s, 1),
        created_by=actor,
        sha256=sha256,
    )
    audit_record(
        action="evaluation.report_store",
        actor=actor,
        object_type="evaluation_report",
        object_id=report.pk,
        summary={"kind": kind, "title": report.title, "model_version": model_version, "sha256": sha256},
    )
    return report


def report_export_record(*, report: EvaluationReport, actor: User, file_format: str, request: HttpRequest) -> None:
    """Every export is an audit event, even of aggregate figures: who took which report out, when."""
    audit_record(
        action="evaluation.report_export",
        actor=actor,
        request=request,
        object_type="evaluation_report",
        object_id=report.pk,
        summary={"format": file_format, "sha256": report.sha256},
    )


def report_verify(report: EvaluationReport) -> bool:
    """Whether the stored content still hashes to the value recorded when it was stored."""
    return report.sha256 == report_content_hash(
        kind=report.kind,
        model_version=report.model_version,
        data=report.data,
        options=report.options,
        figures=report.figures,
        det_png=bytes(report.det_png),
    )


def gallery_size_of(watchlist: Watchlist, *, model_version: str) -> int:
    """Templates a face is compared with on this list: each can produce a false match."""
    return FaceTemplate.objects.filter(
        watchlist=watchlist, model_version=model_version, subject__status=Subject.Status.ACTIVE
    ).count()


def calibration_preview(*, watchlist: Watchlist, report: EvaluationReport, target_fpir: float) -> dict[str, Any]:
    """The threshold the report gives this watchlist for a target FPIR, without changing anything.
    Raises ApplicationError when the report cannot answer (wrong kind or model, rate not resolvable)."""
    if report.kind != EvaluationReport.Kind.IMAGES or "non_mated_tail" not in report.figures:
        raise ApplicationError("Only an image evaluation report has the score distribution a threshold needs.")
    current_model = (
        FaceTemplate.objects.filter(watchlist=watchlist).values_list("model_version", flat=True).first()
        or report.model_version
    )
    if current_model != report.model_version:
        raise ApplicationError(
            "The report measured another model version than the one this watchlist's templates were made with.",
            code="model_mismatch",
        )
    if not TARGET_FPIR_MIN <= target_fpir <= TARGET_FPIR_MAX:
        raise ApplicationError(
            f"The target false-positive identification rate must be between {TARGET_FPIR_MIN:g} and {TARGET_FPIR_MAX:g}.",
            code="target_out_of_range",
        )
    size = max(1, gallery_size_of(watchlist, model_version=report.model_version))
    result = gallery_threshold(
        ScoreTail.from_dict(report.figures["non_mated_tail"]), gallery_size=size, target_fpir=target_fpir
    )
    if not result["resolvable"] or result["threshold"] is None:
        raise ApplicationError(
            f"Report {report.pk} holds {report.figures['non_mated_tail']['total']:,} "
            f"non-mated comparisons, too few to resolve a false-match rate of {result['far_required']:.2g} per comparison "
            f"(needed for FPIR {target_fpir:g} on a list of {size} templates). Choose a looser target or a larger evaluation.",
            code="not_resolvable",
        )
    threshold = round(float(result["threshold"]), 4)
    clamped = min(MAX_MATCH_THRESHOLD, max(MIN_MATCH_THRESHOLD, threshold))
    return {**result, "threshold_measured": threshold, "threshold": clamped, "clamped": clamped != threshold}


@transaction.atomic
def threshold_calibrate(
    *,
    watchlist: Watchlist,
    report: EvaluationReport,
    target_fpir: float,
    actor: User,
    request: HttpRequest | None = None,
) -> ThresholdCalibration:
    """Set the watchlist's threshold to what the report gives for the target FPIR and the list's
    current size, and link the two. Supervisors of the list's zone only, like any list change."""
    writer_check(actor=actor, roles=SUPERVISORS)
    zone_check(actor=actor, zone=watchlist.zone)
    watchlist = Watchlist.objects.select_for_update().get(pk=watchlist.pk)
    preview = calibration_preview(watchlist=watchlist, report=report, target_fpir=target_fpir)
    calibration = ThresholdCalibration.objects.create(
        watchlist=watchlist,
        report=report,
        target_fpir=target_fpir,
        gallery_size=preview["gallery_size"],
        threshold=preview["threshold"],
        previous_threshold=watchlist.match_threshold,
        expected={key: preview[key] for key in ("far_required", "far", "fpir_expected", "fpir_upper", "clamped")},
        created_by=actor,
    )
    watchlist.match_threshold = calibration.threshold
    watchlist.threshold_calibration = calibration
    watchlist.save(update_fields=["match_threshold", "threshold_calibration", "updated_at"])
    audit_record(
        action="watchlist.threshold_calibrate",
        actor=actor,
        request=request,
        object_type="watchlist",
        object_id=watchlist.pk,
        zone=watchlist.zone,
        summary={
            "report": report.pk,
            "report_sha256": report.sha256,
            "target_fpir": target_fpir,
            "gallery_size": calibration.gallery_size,
            "threshold": {"before": calibration.previous_threshold, "after": calibration.threshold},
            "clamped": preview["clamped"],
        },
    )
    return calibration
