"""The pure helpers of the live-pipeline benchmark: percentiles, matching alert events to the
frames that caused them, first-appearance delays and diffs of Prometheus histograms."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from backend.benchmarks.recognition import (
    EventSeen,
    FrameSent,
    Histogram,
    StepResult,
    camera_counts,
    event_from_message,
    first_alerts,
    largest_holding,
    match_events,
    percentile,
    render_tables,
    snapshot_diff,
    snapshot_from_families,
)

T0 = 1_760_000_000.0


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(list(reversed(values)), 0) == 1.0 and percentile(values, 100) == 10.0


def test_event_from_message_takes_alert_events_only() -> None:
    message = {
        "type": "alert.created",
        "alert": {"id": 3, "camera_id": 9, "last_seen_at": "2025-10-09T09:33:20.123456+00:00"},
    }
    event = event_from_message(message, received_at=T0)
    assert event is not None and (event.alert_id, event.camera_id) == (3, 9)
    assert event.last_seen_at == pytest.approx(1760002400.123456)
    assert event_from_message({"type": "hello"}, T0) is None
    assert event_from_message({"type": "camera.status", "camera": {}}, T0) is None
    assert event_from_message({"type": "alert.updated", "alert": {"id": 1}}, T0) is None  # malformed


def _frames(camera_id: int, count: int, *, start: float = T0, status: int = 202) -> list[FrameSent]:
    return [FrameSent(camera_id, i, start + i + 0.000_123, status) for i in range(count)]


def test_events_are_matched_to_frames_by_camera_and_capture_time() -> None:
    frames = _frames(1, 3) + _frames(2, 3, start=T0 + 0.5)
    events = [
        EventSeen("alert.created", 10, 1, T0 + 1.000_123, T0 + 1.4),  # frame 1 of camera 1 (pooled)
        EventSeen("alert.updated", 10, 1, T0 + 2.000_124, T0 + 2.3),  # within the tolerance (µs rounding)
        EventSeen("alert.created", 11, 2, T0 + 0.500_123, T0 + 0.9),
        EventSeen("alert.updated", 11, 2, T0 + 0.500_123, T0 + 5.0),  # the same frame again: counted once
        EventSeen("alert.updated", 12, 3, T0 + 1.0, T0 + 1.2),  # a camera we did not push to
        EventSeen("alert.updated", 10, 1, T0 + 7.0, T0 + 7.1),  # no frame at that time
    ]
    matching = match_events(frames, events)
    assert matching.unmatched_events == 2
    latencies = {
        (frame.camera_id, frame.index): event.received_at - frame.captured_at for frame, event in matching.pairs
    }
    assert latencies.keys() == {(1, 1), (1, 2), (2, 0)}
    assert latencies[(2, 0)] == pytest.approx(0.4, abs=1e-3)  # the first receipt, not the later repeat
    assert latencies[(1, 2)] == pytest.approx(0.3, abs=1e-3)


def test_refused_frames_are_never_matched() -> None:
    frames = [FrameSent(1, 0, T0, 429), FrameSent(1, 1, T0 + 1, 202)]
    matching = match_events(frames, [EventSeen("alert.created", 1, 1, T0, T0 + 0.2)])
    assert matching.pairs == [] and matching.unmatched_events == 1


def test_first_appearance_runs_from_the_first_frame_to_alert_created() -> None:
    frames = _frames(1, 3) + _frames(2, 3) + _frames(3, 3)
    events = [
        EventSeen("alert.updated", 10, 1, T0 + 2.000_123, T0 + 2.5),
        EventSeen("alert.created", 10, 1, T0 + 1.000_123, T0 + 1.6),  # pooled: raised by the 2nd frame
        EventSeen("alert.created", 11, 2, T0 + 0.000_123, T0 + 0.7),  # clear: raised by the 1st frame
    ]
    result = {f.camera_id: f for f in first_alerts(frames, events, match_events(frames, events))}
    assert result[1].frame_number == 2 and result[1].delay_s == pytest.approx(1.6, abs=1e-3)
    assert result[2].frame_number == 1 and result[2].delay_s == pytest.approx(0.7, abs=1e-3)
    assert result[3].delay_s is None and result[3].frame_number is None  # never alerted


def _families(stage_counts: dict[str, tuple[list[float], float, float]], dropped: dict[str, float]) -> list[object]:
    samples = []
    bounds = [0.1, 0.5, 1.0, math.inf]
    for stage, (cumulative, total, count) in stage_counts.items():
        for bound, value in zip(bounds, cumulative, strict=True):
            le = "+Inf" if math.isinf(bound) else str(bound)
            samples.append(
                SimpleNamespace(name="fr_stage_seconds_bucket", labels={"stage": stage, "le": le}, value=value)
            )
        samples.append(SimpleNamespace(name="fr_stage_seconds_sum", labels={"stage": stage}, value=total))
        samples.append(SimpleNamespace(name="fr_stage_seconds_count", labels={"stage": stage}, value=count))
    family = SimpleNamespace(name="fr_stage_seconds", samples=samples)
    drops = SimpleNamespace(
        name="fr_frames_dropped",
        samples=[
            SimpleNamespace(name="fr_frames_dropped_total", labels={"reason": r}, value=v) for r, v in dropped.items()
        ],
    )
    return [family, drops]


def test_stage_histograms_are_diffed_over_a_step() -> None:
    before = snapshot_from_families(_families({"inference": ([2, 4, 4, 4], 1.0, 4)}, {"rate": 1}))
    after = snapshot_from_families(
        _families(
            {"inference": ([2, 12, 14, 14], 5.0, 14), "queue": ([10, 10, 10, 10], 0.5, 10)}, {"rate": 1, "stale": 2}
        )
    )
    diff = snapshot_diff(before, after)
    inference = diff["stages"]["inference"]
    assert inference.count == 10 and inference.total == pytest.approx(4.0) and inference.mean == pytest.approx(0.4)
    assert inference.buckets == {0.1: 0, 0.5: 8, 1.0: 10, math.inf: 10}
    # rank 9.5 of 10 lies in (0.5, 1.0], which holds 2 observations: 0.5 + 0.5 * (1.5 / 2)
    assert inference.quantile(0.95) == pytest.approx(0.875)
    assert diff["stages"]["queue"].count == 10  # a stage first seen during the step
    assert diff["dropped"] == {"stale": 2}  # unchanged counters are left out


def test_histogram_quantile_edges() -> None:
    assert Histogram().quantile(0.95) is None and Histogram().mean is None
    overflow = Histogram(buckets={0.1: 0, 1.0: 1, math.inf: 10}, total=50, count=10)
    assert overflow.quantile(0.95) == 1.0  # beyond the last finite bound: that bound


def _step(cameras: int, latencies: list[float], **fields: object) -> StepResult:
    values: dict[str, object] = dict(
        cameras=cameras,
        sent=10,
        accepted=10,
        shed=0,
        other_status=0,
        events=len(latencies),
        unmatched_events=0,
        latencies_s=latencies,
        first=[],
        stages={},
        dropped={},
    )
    values.update(fields)
    return StepResult(**values)  # type: ignore[arg-type]


def test_the_largest_holding_step_stops_at_the_first_failure() -> None:
    steps = [_step(1, [0.3, 0.4]), _step(2, [0.5, 0.9]), _step(4, [0.6, 1.4]), _step(8, [0.1])]
    assert largest_holding(steps) == 2
    # shedding for lack of capacity is not holding; a refusal of the sender's own early push is
    assert largest_holding([_step(1, [0.2], shed=3, dropped={"backlog": 3.0})]) is None
    assert largest_holding([_step(1, [0.2], shed=1, dropped={"rate": 1.0})]) == 1
    assert largest_holding([_step(1, [0.2], dropped={"stale": 1.0})]) is None
    assert largest_holding([_step(1, [])]) is None  # no event at all measures nothing
    table = render_tables(steps)
    assert "| 4 |" in table and "1400" in table


def test_camera_counts_double_up_to_the_maximum() -> None:
    assert camera_counts(1) == [1]
    assert camera_counts(4) == [1, 2, 4]
    assert camera_counts(64) == [1, 2, 4, 8, 16, 32, 64]
    assert camera_counts(12) == [1, 2, 4, 8, 12]


def test_process_groups_name_the_parts_of_the_stack() -> None:
    from backend.benchmarks.recognition import process_group

    stub = "/opt/tritonserver/backends/python/triton_python_backend_stub"
    assert process_group("triton_python_b", [stub, "/repo/inference/model_repository/face_pipeline/1/model.py"]) == (
        "triton face_pipeline"
    )
    assert process_group("tritonserver", ["tritonserver", "--model-repository=/m"]) == "triton server"
    assert process_group("python", ["/v/bin/python", "-m", "celery", "-A", "backend", "worker"]) == "celery"
    assert process_group("python", ["/v/bin/python", "-m", "daphne", "backend.asgi:application"]) == "web"
    assert process_group("postgres", ["/x/bin/postgres", "-D", "/d"]) == "postgres"
    assert process_group("valkey-server", ["valkey-server", "*:8726"]) == "redis"


def test_cpu_per_frame_splits_inside_and_outside_triton() -> None:
    from backend.benchmarks.recognition import Histogram, StepResult, cpu_diff, render_cpu

    queue = Histogram()
    queue.count = 100
    cpu = cpu_diff(
        {"triton face_detector": 1.0, "celery": 2.0, "web": 0.5},
        {"triton face_detector": 5.0, "celery": 3.0, "web": 1.0, "postgres": 0.2},
    )
    result = StepResult(
        cameras=8, sent=100, accepted=100, shed=0, other_status=0, events=0, unmatched_events=0,
        latencies_s=[], first=[], stages={"queue": queue}, dropped={}, cpu_s=cpu,
    )  # fmt: skip
    table = render_cpu([result])
    # inside: 4.0 s / 100 frames = 40 ms; outside: (1.0 + 0.5 + 0.2) s / 100 = 17 ms
    assert table.splitlines()[-1].endswith("| 40.0 | 17.0 |")
