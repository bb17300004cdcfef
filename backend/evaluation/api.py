"""Evaluation API: the reports (aggregate figures, readable by every role), the DET curve, and
threshold calibration of a watchlist from a report (supervisors; preview or apply). Thin views over
the selectors and services; roles come from the permission matrix, the watchlist's zone from the
scoped watchlist selector (another zone's list is a 404) and again from the service."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import acting_user
from backend.core.errors import NotFound
from backend.watchlists.selectors import watchlist_list_visible_to

from . import selectors, services
from .models import EvaluationReport
from .serializers import (
    CalibrateSerializer,
    CalibrationPreviewSerializer,
    CalibrationSerializer,
    ReportDetailSerializer,
    ReportListSerializer,
)


class EvaluationReportListView(generics.ListAPIView[EvaluationReport]):
    """Evaluation reports, newest first (figures, data and the DET curve are in the detail)."""

    serializer_class = ReportListSerializer
    filterset_fields = ["kind", "model_version"]

    def get_queryset(self) -> QuerySet[EvaluationReport]:
        return selectors.reports_list()


class EvaluationReportDetailView(generics.RetrieveAPIView[EvaluationReport]):
    """One report: every figure with its interval, the data used, the options, whether its content
    still hashes to the recorded sha256, and the thresholds set from it (on lists you may see)."""

    serializer_class = ReportDetailSerializer

    def get_object(self) -> EvaluationReport:
        return selectors.report_get(self.kwargs["pk"])


class EvaluationReportDetView(APIView):
    @extend_schema(operation_id="evaluation_reports_det_png", responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        """The report's DET curve (PNG)."""
        report = selectors.report_get(pk)
        data = bytes(report.det_png or b"")
        if not data:
            raise NotFound("This report has no DET curve.")
        response = HttpResponse(data, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class WatchlistCalibrateView(APIView):
    @extend_schema(
        operation_id="watchlists_calibrate",
        request=CalibrateSerializer,
        responses={200: CalibrationPreviewSerializer, 201: CalibrationSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Derive the watchlist's threshold from an image evaluation report for a target FPIR and
        the list's current size. apply=false previews it; apply=true sets it (supervisors of the
        list's zone; audited) and answers the calibration."""
        user = acting_user(request)
        watchlist = watchlist_list_visible_to(user=user).filter(pk=pk).first()
        if watchlist is None:
            raise NotFound("No such watchlist in your zones.")
        body = CalibrateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report, target = body.validated_data["report"], body.validated_data["target_fpir"]
        if not body.validated_data["apply"]:
            preview: dict[str, Any] = services.calibration_preview(
                watchlist=watchlist, report=report, target_fpir=target
            )
            return Response(
                {
                    "watchlist": watchlist.pk,
                    "report": report.pk,
                    "current_threshold": watchlist.match_threshold,
                    **preview,
                }
            )
        calibration = services.threshold_calibrate(
            watchlist=watchlist, report=report, target_fpir=target, actor=user, request=request
        )
        fresh = selectors.calibrations_of_report(report).get(pk=calibration.pk)
        return Response(CalibrationSerializer(fresh).data, status=status.HTTP_201_CREATED)
