"""Evaluation report routes, included under /api/v1/evaluation/ (route names api:evaluation-*)."""

from __future__ import annotations

from django.urls import path

from .api import EvaluationReportDetailView, EvaluationReportDetView, EvaluationReportListView

urlpatterns = [
    path("reports/", EvaluationReportListView.as_view(), name="evaluation-report-list"),
    path("reports/<int:pk>/", EvaluationReportDetailView.as_view(), name="evaluation-report-detail"),
    path("reports/<int:pk>/det.png", EvaluationReportDetView.as_view(), name="evaluation-report-det"),
]
