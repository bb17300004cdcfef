"""Watchlist, subject, photo, import and search-by-photo API: thin views over selectors and
services. Zone scoping comes from the selectors (a row of another zone is a 404); roles come from
the permission matrix."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import acting_user
from backend.core.serializers import PurposeInputSerializer, stated_purpose
from backend.core.uploads import InvalidUpload

from . import selectors, services
from .models import ImportJob, Subject, SubjectPhoto, Watchlist
from .serializers import (
    IdentifyResultSerializer,
    IdentifySerializer,
    ImportJobSerializer,
    ImportUploadSerializer,
    PhotoUploadSerializer,
    ReasonSerializer,
    SubjectPhotoSerializer,
    SubjectSerializer,
    WatchlistSerializer,
    WatchlistStatsSerializer,
)

FILTERS = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]


def upload_read(file: Any, *, limit: int) -> bytes:
    """Read an uploaded file, refusing it as soon as it passes `limit` bytes."""
    data: bytes = file.read(limit + 1)
    if len(data) > limit:
        raise InvalidUpload(f"The file is larger than {limit // (1024 * 1024)} MB.", code="file_too_large")
    return data


class WatchlistViewSet(viewsets.ModelViewSet[Watchlist]):
    serializer_class = WatchlistSerializer
    filter_backends = FILTERS
    filterset_fields = ["zone", "category", "active"]
    search_fields = ["name", "description"]
    ordering_fields = ["priority", "name", "created_at"]

    def get_queryset(self) -> QuerySet[Watchlist]:
        if getattr(self, "swagger_fake_view", False):
            return Watchlist.objects.none()
        return selectors.watchlist_list_visible_to(user=acting_user(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        watchlist = services.watchlist_create(actor=acting_user(request), request=request, **serializer.validated_data)
        return Response(self.get_serializer(watchlist).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        watchlist = self.get_object()
        serializer = self.get_serializer(watchlist, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        watchlist = services.watchlist_update(
            watchlist=watchlist, actor=acting_user(request), request=request, **serializer.validated_data
        )
        return Response(self.get_serializer(watchlist).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.watchlist_delete(watchlist=self.get_object(), actor=acting_user(request), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=WatchlistStatsSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="stats", pagination_class=None, filter_backends=[])
    def stats(self, request: Request) -> Response:
        """Counts per watchlist (no names of people, no photos): the commissioner's view."""
        rows = selectors.watchlist_stats(user=acting_user(request))
        return Response(WatchlistStatsSerializer(rows, many=True).data)  # type: ignore[arg-type]

    @extend_schema(request=ImportUploadSerializer, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def bulk_import(self, request: Request, pk: str | None = None) -> Response:
        """Queue a bulk import (zip: subjects.csv + photos); poll the returned job for progress."""
        from .importer import import_job_create

        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        archive = serializer.validated_data["archive"]
        job = import_job_create(
            watchlist=self.get_object(),
            archive=upload_read(archive, limit=settings.IMPORT_MAX_BYTES),
            actor=acting_user(request),
            request=request,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class SubjectFilter(filters.FilterSet):
    expires_before = filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="lt")

    class Meta:
        model = Subject
        fields = ["watchlist", "status", "watchlist__zone", "watchlist__category"]


class SubjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Subject]
):
    """Listings. No DELETE: a listing is removed (with a reason) and its record stays."""

    serializer_class = SubjectSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = FILTERS
    filterset_class = SubjectFilter
    search_fields = ["full_name", "aliases", "case_reference"]
    ordering_fields = ["created_at", "expires_at", "full_name"]

    def get_queryset(self) -> QuerySet[Subject]:
        if getattr(self, "swagger_fake_view", False):
            return Subject.objects.none()
        return selectors.subject_list_visible_to(user=acting_user(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subject = services.subject_create(actor=acting_user(request), request=request, **serializer.validated_data)
        return Response(self._render(subject), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subject = self.get_object()
        serializer = self.get_serializer(subject, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = {k: v for k, v in serializer.validated_data.items() if k != "submit"}
        subject = services.subject_update(subject=subject, actor=acting_user(request), request=request, **fields)
        return Response(self._render(subject))

    def _render(self, subject: Subject) -> dict[str, Any]:
        return self.get_serializer(self.get_queryset().get(pk=subject.pk)).data  # type: ignore[no-any-return]

    @extend_schema(request=None, responses=SubjectSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        subject = services.subject_submit(subject=self.get_object(), actor=acting_user(request), request=request)
        return Response(self._render(subject))

    @extend_schema(request=None, responses=SubjectSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        subject = services.subject_approve(subject=self.get_object(), actor=acting_user(request), request=request)
        return Response(self._render(subject))

    @extend_schema(request=ReasonSerializer, responses=SubjectSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subject = services.subject_reject(
            subject=self.get_object(), actor=acting_user(request), reason=body.validated_data["reason"], request=request
        )
        return Response(self._render(subject))

    @extend_schema(request=ReasonSerializer, responses=SubjectSerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str | None = None) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subject = services.subject_remove(
            subject=self.get_object(), actor=acting_user(request), reason=body.validated_data["reason"], request=request
        )
        return Response(self._render(subject))


class SubjectPhotoViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[SubjectPhoto]
):
    """Enrolment photos. POST (multipart) enrols a photo at once: the answer is the stored photo
    with its template, or the specific reason it was refused."""

    serializer_class = SubjectPhotoSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]
    filter_backends = [filters.DjangoFilterBackend]
    filterset_fields = ["subject"]

    def get_queryset(self) -> QuerySet[SubjectPhoto]:
        if getattr(self, "swagger_fake_view", False):
            return SubjectPhoto.objects.none()
        return selectors.photo_list_visible_to(user=acting_user(self.request))

    @extend_schema(request=PhotoUploadSerializer, responses={201: SubjectPhotoSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PhotoUploadSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        photo = services.subject_photo_add(
            subject=data["subject"],
            data=upload_read(data["image"], limit=settings.UPLOAD_MAX_BYTES),
            actor=acting_user(request),
            request=request,
            captured_on=data.get("captured_on"),
            source=data.get("source", ""),
            box=data.get("box"),
        )
        return Response(self.get_serializer(photo).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.subject_photo_delete(photo=self.get_object(), actor=acting_user(request), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PurposeInputSerializer, responses={(200, "image/jpeg"): bytes})
    @action(detail=True, methods=["post"])
    def image(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The enrolled photo. A biometric read: a POST with `purpose` in the body (never a GET a
        link could make a browser send), and the view is audited."""
        photo = self.get_object()
        data = services.subject_photo_read(
            photo=photo,
            actor=acting_user(request),
            purpose=stated_purpose(request.data),
            request=request,
        )
        response = HttpResponse(data, content_type=photo.content_type)
        response["Cache-Control"] = "private, no-store"
        return response


class ImportJobViewSet(viewsets.ReadOnlyModelViewSet[ImportJob]):
    serializer_class = ImportJobSerializer

    def get_queryset(self) -> QuerySet[ImportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return selectors.import_job_list_visible_to(user=acting_user(self.request))


class IdentifyView(APIView):
    """Search by photo: each face in the photo against the watchlists of your zones."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "expensive"

    @extend_schema(request=IdentifySerializer, responses=IdentifyResultSerializer)
    def post(self, request: Request) -> Response:
        serializer = IdentifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.photo_identify(
            data=upload_read(data["image"], limit=settings.UPLOAD_MAX_BYTES),
            actor=acting_user(request),
            purpose=data["purpose"],
            request=request,
            k=data["k"],
            watchlist_ids=data.get("watchlists"),
        )
        return Response(IdentifyResultSerializer(result).data)
