"""Cameras of the registry. Zones live in `backend.zones`."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Pune's bounds (the seed and imports keep every camera inside; a vehicle may report any position).
CITY_LAT_MIN, CITY_LAT_MAX = 18.40, 18.75
CITY_LON_MIN, CITY_LON_MAX = 73.70, 74.05


class Camera(models.Model):
    """One camera of the registry. The registry is the map's truth: most seeded cameras have no
    stream configured; a deployment attaches streams (RTSP, HTTP snapshot, push, file) per camera.

    Health fields are written by the ingest workers (and by the push endpoint) through
    `backend.cameras.health`, never by users."""

    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed"
        PTZ = "ptz", "PTZ"
        VEHICLE = "vehicle", "Vehicle-mounted"

    class StreamKind(models.TextChoices):
        NONE = "none", "No stream configured"
        RTSP = "rtsp", "RTSP"
        SNAPSHOT = "snapshot", "HTTP snapshot polling"
        PUSH = "push", "HTTP push"
        FILE = "file", "Video file (replay)"
        COMPOSED = "composed", "Composed demo frames"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"  # no stream, or never seen
        ONLINE = "online", "Online"
        DEGRADED = "degraded", "Degraded"  # frames arrive but some fail (or fall short of the fps)
        OFFLINE = "offline", "Offline"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FIXED)
    zone = models.ForeignKey("zones.Zone", on_delete=models.PROTECT, related_name="cameras")
    place = models.CharField(max_length=160, blank=True, help_text="The named place, e.g. 'Pune Railway Station'.")
    place_category = models.CharField(max_length=32, blank=True, help_text="transit, temple, market, junction, ...")
    group = models.SlugField(max_length=64, blank=True, db_index=True, help_text="Operations may name a group.")
    # Where the camera is (a vehicle camera: where it last reported being).
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    heading_deg = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(360)])
    stream_kind = models.CharField(max_length=16, choices=StreamKind.choices, default=StreamKind.NONE)
    # May hold credentials (rtsp://user:pass@...): never returned by the API unmasked, never logged.
    stream_url = models.CharField(max_length=1000, blank=True)
    # Camera-scoped push token (HTTP push): only its hash is stored; the key is shown once.
    push_token_prefix = models.CharField(max_length=12, blank=True)
    push_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    sample_fps = models.FloatField(default=1.0, validators=[MinValueValidator(0.05), MaxValueValidator(30)])
    min_face_px = models.PositiveSmallIntegerField(
        default=32, validators=[MinValueValidator(16), MaxValueValidator(1000)], help_text="Smallest face box width."
    )
    enabled = models.BooleanField(default=True)
    demo = models.BooleanField(default=False, help_text="A demo camera (replays dataset media).")
    # Health, written by ingest.
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN, db_index=True)
    health_changed_at = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    achieved_fps = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["zone", "kind"], name="camera_zone_kind")]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def has_stream(self) -> bool:
        return self.stream_kind != self.StreamKind.NONE
