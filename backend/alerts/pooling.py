"""Evidence pooling over a short track: one good frame is not enough unless it is very good.

A track is the run of frames at one camera in which the same subject is the best match, with no
gap longer than TRACK_GAP_S. A face counts as evidence ("a hit") when its score reaches the
watchlist's threshold minus POOL_SLACK. An alert is raised when either

  * one hit scores at least threshold + TRACK_SINGLE_FRAME_MARGIN (a clear match: alert at once), or
  * the track holds TRACK_POOL_MIN_FRAMES hits and the mean of its best TRACK_POOL_MIN_FRAMES
    scores reaches the threshold (several consistent frames outweigh one lucky frame).

Hits live in Redis (score, time, frame id, box and place; never a crop or a template) for the
length of a track only. The pure rule is `pool_decide`, unit-tested; `track_add` is the shared
state (in the live-state Redis), guarded by a short Redis lock because two workers may process
frames of one camera at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from django.conf import settings

from backend.core.live_state import live_redis

POOL_SLACK = 0.02  # how far below the threshold a frame still counts as supporting evidence


@dataclass(frozen=True)
class Hit:
    at: float  # capture time, Unix seconds
    score: float
    frame_id: str
    box: tuple[float, float, float, float]
    latitude: float
    longitude: float


@dataclass(frozen=True)
class PoolRule:
    threshold: float
    min_frames: int
    single_frame_margin: float
    gap_s: float

    @classmethod
    def for_threshold(cls, threshold: float) -> PoolRule:
        return cls(
            threshold=threshold,
            min_frames=settings.TRACK_POOL_MIN_FRAMES,
            single_frame_margin=settings.TRACK_SINGLE_FRAME_MARGIN,
            gap_s=settings.TRACK_GAP_S,
        )

    def counts_as_hit(self, score: float) -> bool:
        return score >= round(self.threshold - POOL_SLACK, 6)


def track_current(hits: list[Hit], *, gap_s: float) -> list[Hit]:
    """The hits of the track the newest hit belongs to (time order; a longer gap starts a new track)."""
    ordered = sorted(hits, key=lambda hit: hit.at)
    start = 0
    for index in range(1, len(ordered)):
        if ordered[index].at - ordered[index - 1].at > gap_s:
            start = index
    return ordered[start:]


def pool_decide(hits: list[Hit], rule: PoolRule) -> bool:
    """Whether the pooled evidence of one track is enough for an alert."""
    if not hits:
        return False
    if max(hit.score for hit in hits) >= round(rule.threshold + rule.single_frame_margin, 6):
        return True
    if len(hits) < rule.min_frames:
        return False
    best = sorted((hit.score for hit in hits), reverse=True)[: rule.min_frames]
    return sum(best) / len(best) >= rule.threshold


def _key(camera_id: int, subject_id: int) -> str:
    return f"track:{camera_id}:{subject_id}"


def track_add(*, camera_id: int, subject_id: int, hit: Hit, rule: PoolRule) -> list[Hit]:
    """Add a hit to the camera's track of this subject; returns the current track's hits. A frame
    seen twice (a redelivered task) is not counted twice."""
    store = live_redis()
    key = _key(camera_id, subject_id)
    with store.lock(f"{key}:lock", timeout=5, blocking_timeout=5):
        raw = store.get(key)
        hits = [Hit(**{**item, "box": tuple(item["box"])}) for item in json.loads(raw)] if raw else []
        if all(existing.frame_id != hit.frame_id for existing in hits):
            hits.append(hit)
        hits = track_current(hits, gap_s=rule.gap_s)[-50:]  # a long track keeps its newest hits
        store.set(key, json.dumps([asdict(item) for item in hits]), ex=max(1, int(rule.gap_s * 2) + 1))
    return hits


def track_forget(*, camera_id: int, subject_id: int) -> None:
    """Once an alert exists, the track's hits are its sightings; the pooled state is not needed."""
    live_redis().delete(_key(camera_id, subject_id))
