from rest_framework import serializers

from .models import Zone


class ZoneSerializer(serializers.ModelSerializer[Zone]):
    class Meta:
        model = Zone
        fields = ["id", "code", "name", "station_name", "centre_lat", "centre_lon", "boundary", "created_at"]
        read_only_fields = ["id", "created_at"]
