"""The rule that refuses a frame at the door when it would only go stale in the queue."""

from __future__ import annotations

import math

from backend.recognition.throughput import MIN_BACKLOG, should_shed, wait_predicted_s


def test_a_short_queue_never_predicts() -> None:
    assert wait_predicted_s(backlog=MIN_BACKLOG - 1, rate=0.1) is None


def test_no_recent_throughput_leaves_it_to_the_fixed_bound() -> None:
    assert wait_predicted_s(backlog=500, rate=0.0) is None
    assert not should_shed(backlog=500, rate=0.0, max_age_s=2.0)


def test_wait_is_backlog_over_throughput() -> None:
    assert math.isclose(wait_predicted_s(backlog=20, rate=8.0) or 0, 2.5)


def test_shed_when_the_wait_would_use_most_of_the_freshness_budget() -> None:
    # 2 s budget, 75%: 1.5 s of waiting is the limit
    assert not should_shed(backlog=12, rate=8.0, max_age_s=2.0)  # 1.5 s
    assert should_shed(backlog=13, rate=8.0, max_age_s=2.0)  # 1.625 s
