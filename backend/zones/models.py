"""Zones (a police station's jurisdiction): the one scoping unit of the platform.

Zone used to live in `backend.cameras`; it has its own app because users, watchlists, alerts,
operations and audit all point at it, not only cameras. The move was state-only: the table keeps
its name `cameras_zone` (Meta.db_table) so existing databases keep their rows, foreign keys and
the many-to-many tables unchanged (see zones/migrations/0001_initial.py)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Zone(models.Model):
    """A police station's jurisdiction. Users, cameras, watchlists and alerts belong to zones."""

    code = models.SlugField(max_length=32, unique=True, help_text="Short stable code, e.g. 'shivajinagar'.")
    name = models.CharField(max_length=120, unique=True)
    station_name = models.CharField(max_length=160, blank=True)
    centre_lat = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    centre_lon = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    # GeoJSON Polygon/MultiPolygon geometry (WGS84) of the jurisdiction, when known. PostGIS is not
    # a dependency: outlines are for display; scoping uses the zone a row belongs to, not geometry.
    boundary = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # The table predates this app (it was created as cameras.Zone); keeping its name keeps
        # the data and every foreign key to it without a database migration.
        db_table = "cameras_zone"

    def __str__(self) -> str:
        return self.name
