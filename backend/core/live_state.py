"""The live-state store: one Redis database for the short-lived state of live recognition.

What lives here is lossy by design and never the record: frames waiting for a worker (seconds),
per-camera sampling slots, the hits of a current track (evidence pooling), and a camera's recent
inference fault. Everything has a TTL. Records (alerts, sightings, audit) live in PostgreSQL.

It sits in `core` because the apps that keep such state (cameras, alerts, recognition) are on
different floors and none may import the others' Redis client."""

from __future__ import annotations

import functools

import redis
from django.conf import settings

LIVE_DB = 3  # Redis db of live state (0 broker, 1 channel layer, 2 cache)


@functools.cache
def live_redis() -> redis.Redis:
    """One pooled client per process (it is used for every frame)."""
    return redis.Redis.from_url(f"{settings.REDIS_URL}/{LIVE_DB}", socket_timeout=5, socket_connect_timeout=5)
