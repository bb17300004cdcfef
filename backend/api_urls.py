"""Routes under /api/v1/: one router for every app's viewsets, plus the schema and its docs page."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from backend.accounts.api import AccountChangeViewSet, ApiTokenViewSet, MeView, TokenView, UserViewSet
from backend.alerts.api import AlertViewSet, SightingViewSet
from backend.cameras.api import CameraViewSet, ZoneViewSet
from backend.core.api import RetentionPolicyViewSet
from backend.evaluation.api import WatchlistCalibrateView
from backend.operations.api import OperationViewSet
from backend.recognition.api import FramePushView
from backend.watchlists.api import (
    IdentifyView,
    ImportJobViewSet,
    SubjectPhotoViewSet,
    SubjectViewSet,
    WatchlistViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("zones", ZoneViewSet, basename="zone")
router.register("cameras", CameraViewSet, basename="camera")
router.register("users", UserViewSet, basename="user")
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("account-changes", AccountChangeViewSet, basename="accountchange")
router.register("retention", RetentionPolicyViewSet, basename="retention")
router.register("watchlists", WatchlistViewSet, basename="watchlist")
router.register("subjects", SubjectViewSet, basename="subject")
router.register("photos", SubjectPhotoViewSet, basename="subjectphoto")
router.register("imports", ImportJobViewSet, basename="importjob")
router.register("alerts", AlertViewSet, basename="alert")
router.register("sightings", SightingViewSet, basename="sighting")
router.register("operations", OperationViewSet, basename="operation")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("me/", MeView.as_view(), name="me"),
    path("auth/token/", TokenView.as_view(), name="token"),
    path("audit/", include("backend.audit.urls")),
    path("identify/", IdentifyView.as_view(), name="identify"),
    path("cameras/<int:camera_id>/frames", FramePushView.as_view(), name="camera-frames"),
    path("evaluation/", include("backend.evaluation.urls")),
    path("watchlists/<int:pk>/calibrate/", WatchlistCalibrateView.as_view(), name="watchlist-calibrate"),
    *router.urls,
]
