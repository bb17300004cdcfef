"""The evidence-pooling rule (pure): when a track of frames is enough for an alert."""

from __future__ import annotations

from backend.alerts.pooling import POOL_SLACK, Hit, PoolRule, pool_decide, track_current

RULE = PoolRule(threshold=0.92, min_frames=2, single_frame_margin=0.03, gap_s=3.0)


def hit(at: float, score: float) -> Hit:
    return Hit(at=at, score=score, frame_id=f"f{at}", box=(0, 0, 10, 10), latitude=18.5, longitude=73.8)


def test_one_clear_frame_alerts_at_once() -> None:
    assert pool_decide([hit(0, 0.95)], RULE)


def test_one_frame_just_above_the_threshold_waits_for_more() -> None:
    assert not pool_decide([hit(0, 0.93)], RULE)


def test_two_consistent_frames_alert_even_if_one_is_slightly_below() -> None:
    assert pool_decide([hit(0, 0.915), hit(1, 0.93)], RULE)  # mean 0.9225 >= 0.92


def test_two_weak_frames_do_not_alert() -> None:
    assert not pool_decide([hit(0, 0.905), hit(1, 0.925)], RULE)  # mean 0.915


def test_the_best_frames_decide_not_the_first_ones() -> None:
    assert pool_decide([hit(0, 0.90), hit(1, 0.925), hit(2, 0.93)], RULE)


def test_near_matches_count_as_evidence_only_within_the_slack() -> None:
    assert RULE.counts_as_hit(0.92 - POOL_SLACK)
    assert not RULE.counts_as_hit(0.92 - POOL_SLACK - 0.001)


def test_a_long_gap_starts_a_new_track() -> None:
    hits = [hit(0, 0.93), hit(1, 0.93), hit(10, 0.93)]
    assert track_current(hits, gap_s=3.0) == [hits[2]]
    assert not pool_decide(track_current(hits, gap_s=3.0), RULE)


def test_track_order_follows_capture_time_not_arrival() -> None:
    late, early = hit(2, 0.93), hit(1, 0.93)
    assert track_current([late, early], gap_s=3.0) == [early, late]


def test_no_hits_no_alert() -> None:
    assert not pool_decide([], RULE)
