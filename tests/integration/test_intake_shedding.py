"""frame_submit against the real Redis and broker: a frame that would wait past its freshness in
the recognition queue is refused at the door ("backlog"), one that would not is queued."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from backend.core.live_state import live_redis
from backend.recognition.intake import frame_submit
from backend.recognition.throughput import WINDOW_S, frame_done_count, throughput

pytestmark = [pytest.mark.integration]


@pytest.fixture
def broker(settings) -> Iterator[redis.Redis]:  # type: ignore[no-untyped-def]
    """A queue of its own: no Celery worker of the test session consumes it."""
    settings.RECOGNITION_QUEUE = "recognition-shedding-test"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(settings.RECOGNITION_QUEUE)
    yield client
    client.delete(settings.RECOGNITION_QUEUE)
    client.close()


def finished(count: int, *, now: float) -> None:
    """`count` frames finished in each of the last WINDOW_S whole seconds."""
    store = live_redis()
    for second in range(int(now) - WINDOW_S, int(now)):
        for _ in range(count):
            frame_done_count(store, now=second + 0.5)


def offer(camera_id: int) -> str:
    return frame_submit(
        camera_id=camera_id, jpeg=b"\xff\xd8jpeg", captured_at=time.time(), sample_fps=1.0, source="push"
    ).reason


def test_a_frame_that_would_go_stale_is_refused_and_a_fresh_one_is_queued(broker: redis.Redis, settings) -> None:  # type: ignore[no-untyped-def]
    store = live_redis()
    for key in store.scan_iter("recognition:done:*"):
        store.delete(key)
    broker.rpush(settings.RECOGNITION_QUEUE, *[b"{}"] * 30)  # 30 frames waiting
    now = time.time()
    finished(4, now=now)  # 4 frames/s finished lately: the 31st would wait ~7.5 s
    assert throughput(store, now=now) == pytest.approx(4.0)
    assert offer(990001) == "backlog"
    finished(60, now=now)  # now 64 frames/s: ~0.5 s of waiting
    assert throughput(store, now=now) == pytest.approx(64.0)
    assert offer(990002) == "accepted"
    assert broker.llen(settings.RECOGNITION_QUEUE) == 31
