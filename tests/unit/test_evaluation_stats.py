"""Accuracy statistics (pure): binomial intervals against published values, exact thresholds on small hand-built
score sets, verification and open-set identification counts, and the stored score tail used for watchlists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.evaluation.stats import (
    Rate,
    ScoreTail,
    accepted,
    clopper_pearson,
    det_points,
    far_for_gallery,
    fpir_for_gallery,
    gallery_threshold,
    identification,
    min_trials_for,
    rate,
    resolvable,
    score_histogram,
    threshold_at_rate,
    verification,
    wilson,
)

INF = math.inf


# Intervals. Reference values: Clopper & Pearson (1934) as tabulated by R's binom.test / statsmodels.


def test_clopper_pearson_matches_published_values() -> None:
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(0.30850, abs=1e-5))
    assert clopper_pearson(5, 10) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    assert clopper_pearson(1, 10) == pytest.approx((0.00253, 0.44502), abs=1e-5)
    assert clopper_pearson(3, 100) == pytest.approx((0.00623, 0.08518), abs=1e-5)
    assert clopper_pearson(10, 10) == (pytest.approx(0.69150, abs=1e-5), 1.0)


def test_clopper_pearson_zero_events_has_the_closed_form_bound() -> None:
    # With k = 0 the upper bound solves (1 - p) ** n = alpha / 2.
    low, high = clopper_pearson(0, 300)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 300), rel=1e-9)


def test_wilson_matches_the_published_value() -> None:
    assert wilson(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-5)


def test_interval_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        clopper_pearson(1, 10, confidence=1.0)


def test_rate_carries_value_interval_and_method() -> None:
    result = rate(5, 10)
    assert result == Rate(count=5, total=10, value=0.5, low=result.low, high=result.high, method="clopper-pearson")
    assert (result.low, result.high) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    assert rate(5, 10, method="wilson").as_dict() == {
        "count": 5,
        "total": 10,
        "value": 0.5,
        "low": pytest.approx(0.23659, abs=1e-5),
        "high": pytest.approx(0.76341, abs=1e-5),
        "method": "wilson",
    }
    empty = rate(0, 0)
    assert (empty.value, empty.low, empty.high) == (None, None, None)
    with pytest.raises(ValueError, match="wilson"):
        rate(1, 2, method="normal")


def test_min_trials_for_is_the_rule_of_three() -> None:
    # ln(0.05) / ln(0.999) = -2.995732 / -0.0010005 = 2994.2, so 2995 trials.
    assert min_trials_for(0.001) == 2995
    assert 0.999**2995 <= 0.05 < 0.999**2994
    assert min_trials_for(0.01) == 299
    assert min_trials_for(1e-4) == 29956
    assert min_trials_for(0.01, confidence=0.99) == 459  # ln(0.01) / ln(0.99) = 458.2
    assert not resolvable(0.001, 2994) and resolvable(0.001, 2995)
    with pytest.raises(ValueError):
        min_trials_for(0.0)


# Thresholds read off sorted scores.


def test_threshold_at_rate_rejects_the_whole_tie_group() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.7, 0.1])
    t = threshold_at_rate(scores, 0.2)  # m = 1: only 0.9 may pass
    assert 0.8 < t <= 0.9 and accepted(scores, t) == 1
    t = threshold_at_rate(scores, 0.4)  # m = 2, but s[2] = 0.8 ties with s[1]: both 0.8 are rejected
    assert t == np.nextafter(0.8, INF) and accepted(scores, t) == 1
    t = threshold_at_rate(scores, 0.6)  # m = 3
    assert t == np.nextafter(0.7, INF) and accepted(scores, t) == 3
    assert accepted(scores, threshold_at_rate(scores, 0.0)) == 0
    assert threshold_at_rate(scores, 1.0) == 0.1  # everything may pass: the lowest score


def test_threshold_at_rate_is_the_lowest_such_threshold() -> None:
    scores = np.random.default_rng(7).normal(0.0, 0.1, 5000).round(3)  # rounding makes many ties
    for target in (1e-3, 1e-2, 0.05, 0.5):
        m = math.floor(target * len(scores))
        t = threshold_at_rate(scores, target)
        assert accepted(scores, t) <= m
        assert accepted(scores, np.nextafter(t, -INF)) > m


def test_threshold_at_rate_floors_the_count_without_float_surprises() -> None:
    scores = np.arange(100) / 100
    # 0.29 * 100 == 28.999999999999996 in floating point; the allowance is still 29 accepts.
    assert accepted(scores, threshold_at_rate(scores, 0.29)) == 29


def test_threshold_at_rate_never_accepts_minus_inf() -> None:
    scores = np.array([0.5, -INF, -INF, -INF])
    assert threshold_at_rate(scores, 0.5) == 0.5  # m = 2 but only one finite score exists
    assert threshold_at_rate(scores, 0.25) == 0.5  # m = 1: the one finite score may pass
    assert threshold_at_rate(scores, 0.2) == np.nextafter(0.5, INF)  # m = 0
    assert threshold_at_rate(np.array([-INF, -INF]), 0.5) == -INF
    with pytest.raises(ValueError):
        threshold_at_rate(np.array([]), 0.1)
    with pytest.raises(ValueError):
        threshold_at_rate(np.array([0.1, np.nan]), 0.1)


# Verification.

GENUINE = np.array([0.9, 0.8, 0.7, 0.6, 0.3])
IMPOSTOR = np.array([0.1, 0.2, 0.3, 0.4, 0.65])


def test_equal_error_rate_on_a_hand_computed_case() -> None:
    # At t = 0.6: impostors >= t: {0.65} -> FAR 1/5; genuine < t: {0.3} -> FRR 1/5.
    result = verification(GENUINE, IMPOSTOR)
    assert result["eer"] == {"value": pytest.approx(0.2), "threshold": 0.6}
    assert (result["genuine_pairs"], result["impostor_pairs"]) == (5, 5)


def test_equal_error_rate_is_zero_when_the_classes_separate() -> None:
    result = verification(np.array([0.7, 0.8]), np.array([0.1, 0.2, 0.3]))
    assert result["eer"] == {"value": 0.0, "threshold": 0.7}


def test_verification_operating_points_count_exactly() -> None:
    impostor = np.arange(300) / 1000  # 0.000 .. 0.299
    genuine = np.array([0.25, 0.2985, 0.299, 0.5, 0.9])
    result = verification(genuine, impostor, far_targets=(1e-2, 1e-3))
    at_1e2, at_1e3 = result["at_far"]
    # 300 >= 299 trials: resolvable. m = 3 -> s[3] = 0.296 is the highest rejected impostor.
    assert at_1e2["resolvable"] and at_1e2["threshold"] == np.nextafter(0.296, INF)
    assert (at_1e2["far"]["count"], at_1e2["far"]["total"]) == (3, 300)
    assert (at_1e2["far"]["low"], at_1e2["far"]["high"]) == pytest.approx(clopper_pearson(3, 300))
    assert (at_1e2["tar"]["count"], at_1e2["tar"]["total"], at_1e2["tar"]["value"]) == (4, 5, 0.8)
    assert (at_1e2["frr"]["count"], at_1e2["frr"]["value"]) == (1, 0.2)
    # 300 < 2995: FAR 0.1% cannot be told apart from zero, so no threshold is claimed.
    assert at_1e3 == {"target": 1e-3, "resolvable": False, "threshold": None, "tar": None, "far": None, "frr": None}
    assert result["genuine_summary"] == pytest.approx(
        {"p1": 0.25 + 0.04 * 0.0485, "p5": 0.25 + 0.2 * 0.0485, "median": 0.299, "min": 0.25}
    )
    assert result["impostor_summary"]["median"] == pytest.approx(0.1495)
    assert result["impostor_summary"]["max"] == 0.299
    assert sum(result["histogram"]["impostor"]) == 300 and sum(result["histogram"]["genuine"]) == 5


def test_verification_refuses_missing_or_non_finite_scores() -> None:
    with pytest.raises(ValueError):
        verification(np.array([]), IMPOSTOR)
    with pytest.raises(ValueError):
        verification(np.array([0.5, -INF]), IMPOSTOR)


def test_score_histogram_clips_into_the_end_bins() -> None:
    result = score_histogram(np.array([-0.5, 0.0, 0.95, 1.5, -INF]), np.array([0.3, 0.6]), lo=0.0, hi=1.0, bins=4)
    assert result["edges"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert result["genuine"] == [2, 0, 0, 2]  # -inf ("no face") is left out
    assert result["impostor"] == [0, 1, 1, 0]


def test_det_points_on_a_hand_computed_case() -> None:
    result = det_points(GENUINE, IMPOSTOR)
    assert result["threshold"] == [0.1, 0.2, 0.3, 0.4, 0.6, 0.65, 0.7, 0.8, 0.9]
    assert result["far"] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.0, 0.0, 0.0])
    assert result["frr"] == pytest.approx([0.0, 0.0, 0.0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.8])
    thinned = det_points(GENUINE, IMPOSTOR, max_points=3)
    assert thinned["threshold"] == [0.1, 0.6, 0.9]  # both extremes and the middle quantile
    assert thinned["far"] == pytest.approx([1.0, 0.2, 0.0])


def test_det_points_keep_resolution_where_errors_are_rare() -> None:
    rng = np.random.default_rng(5)
    genuine, impostor = rng.normal(0.7, 0.1, 3000), rng.normal(0.1, 0.1, 200_000)
    result = det_points(genuine, impostor, max_points=400)
    thresholds = np.array(result["threshold"])
    assert len(thresholds) <= 400 and np.all(np.diff(thresholds) > 0)
    assert thresholds[0] == min(genuine.min(), impostor.min()) and thresholds[-1] == max(genuine.max(), impostor.max())
    for t, far, frr in list(zip(thresholds, result["far"], result["frr"], strict=True))[::37]:
        assert far == accepted(impostor, t) / 200_000 and frr == np.count_nonzero(genuine < t) / 3000
    # Evenly spaced quantiles alone would leave about one point per 500 scores, i.e. a single one below FAR 1e-3.
    rare = [far for far in result["far"] if 0 < far <= 1e-3]
    assert len(rare) >= 30


# Identification.

MATED = np.array([0.9, 0.8, -INF, 0.5])  # the third search found the wrong person (or no face)
NON_MATED = np.concatenate([np.full(100, -INF), np.arange(200) / 1000])  # 300 searches, 100 without a face


def test_identification_counts_at_an_fpir_target_and_a_fixed_threshold() -> None:
    result = identification(MATED, NON_MATED, fpir_targets=(1e-2, 1e-3), fixed_thresholds=(0.85,))
    assert (result["mated_searches"], result["non_mated_searches"]) == (4, 300)
    assert (result["rank1"]["count"], result["rank1"]["total"]) == (3, 4)
    at_1e2, at_1e3 = result["at_fpir"]
    assert at_1e2["resolvable"] and at_1e2["threshold"] == np.nextafter(0.196, INF)  # m = 3 of 300
    assert (at_1e2["fpir"]["count"], at_1e2["fpir"]["total"]) == (3, 300)
    assert (at_1e2["tpir"]["count"], at_1e2["fnir"]["count"], at_1e2["fnir"]["total"]) == (3, 1, 4)
    assert not at_1e3["resolvable"] and at_1e3["threshold"] is None and at_1e3["tpir"] is None
    (fixed,) = result["at_threshold"]
    assert fixed["threshold"] == 0.85
    assert (fixed["fpir"]["count"], fixed["tpir"]["count"], fixed["fnir"]["count"]) == (0, 1, 3)


def test_identification_never_accepts_searches_without_a_face() -> None:
    # m = 270 reaches into the 100 faceless searches: every finite score may pass, so t = the lowest one.
    (point,) = identification(MATED, NON_MATED, fpir_targets=(0.9,))["at_fpir"]
    assert point["threshold"] == 0.0 and point["fpir"]["count"] == 200


def test_identification_threshold_when_no_non_mated_search_scored() -> None:
    (point,) = identification(MATED, np.full(300, -INF), fpir_targets=(1e-2,))["at_fpir"]
    assert point["threshold"] == pytest.approx(0.5 - 1e-6)
    assert (point["fpir"]["count"], point["tpir"]["count"]) == (0, 3)
    (nothing,) = identification(np.full(2, -INF), np.full(300, -INF), fpir_targets=(1e-2,))["at_fpir"]
    assert nothing["threshold"] == 0.0


def test_identification_without_non_mated_searches_claims_no_threshold() -> None:
    result = identification(MATED, np.array([]))
    assert all(not point["resolvable"] and point["threshold"] is None for point in result["at_fpir"])


# Galleries.


def test_fpir_and_far_for_a_gallery() -> None:
    assert fpir_for_gallery(1e-3, 1000) == pytest.approx(1 - 0.999**1000, rel=1e-12)
    assert fpir_for_gallery(1e-3, 1000) == pytest.approx(0.63230, abs=1e-5)
    assert fpir_for_gallery(0.2, 1) == pytest.approx(0.2) and far_for_gallery(0.2, 1) == pytest.approx(0.2)
    # 1 - (1 - 1e-9) ** 10 computed naively keeps only ~7 digits; the answer is 1e-8 - 4.5e-17.
    assert fpir_for_gallery(1e-9, 10) == pytest.approx(1e-8, rel=1e-12)
    for far, size in ((1e-4, 500), (1e-6, 20_000), (0.05, 3)):
        assert far_for_gallery(fpir_for_gallery(far, size), size) == pytest.approx(far, rel=1e-9)
    assert fpir_for_gallery(1.0, 5) == 1.0 and far_for_gallery(0.0, 5) == 0.0
    with pytest.raises(ValueError):
        far_for_gallery(0.1, 0)


FULL = np.random.default_rng(11).normal(0.0, 0.1, 100_000)


def test_score_tail_answers_like_the_full_array_within_the_tail() -> None:
    tail = ScoreTail.from_scores(FULL, keep=500)
    assert tail.total == 100_000 and len(tail.scores) == 500 and np.all(np.diff(tail.scores) <= 0)
    for t in (tail.scores[0], tail.scores[250], tail.scores[-1], 0.5):
        known = tail.rate_at(float(t))
        assert known is not None and (known.count, known.total) == (accepted(FULL, t), 100_000)
    assert tail.rate_at(float(tail.scores[-1]) - 1e-9) is None
    for target in (1e-5, 1e-3, 4e-3):  # m = 1, 100, 400 lie inside the 500 kept
        assert tail.threshold_for(target) == threshold_at_rate(FULL, target)
    assert tail.threshold_for(1e-2) is None  # m = 1000 lies below the tail


def test_score_tail_drops_a_tie_group_that_straddles_the_cut() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.1])
    short = ScoreTail.from_scores(scores, keep=2)
    assert short.scores.tolist() == [0.9] and short.total == 5
    assert short.rate_at(0.8) is None  # how many of the unstored scores reach 0.8 is unknown
    longer = ScoreTail.from_scores(scores, keep=4)
    rate_08 = longer.rate_at(0.8)
    assert rate_08 is not None and (rate_08.count, rate_08.total) == (4, 5)
    complete = ScoreTail.from_scores(scores)
    assert complete.threshold_for(1.0) == 0.1 and complete.rate_at(-5.0) is not None


def test_score_tail_round_trips_through_json() -> None:
    tail = ScoreTail.from_scores(FULL, keep=50)
    data = tail.as_dict()
    assert data["total"] == 100_000 and data["scores"] == [round(float(s), 6) for s in tail.scores]
    again = ScoreTail.from_dict(data)
    assert again.total == tail.total and again.scores == pytest.approx(tail.scores, abs=5e-7)
    with pytest.raises(ValueError):
        ScoreTail.from_dict({"total": 1, "scores": [0.5, 0.4]})
    with pytest.raises(ValueError):
        ScoreTail(total=3, scores=np.array([0.1, 0.5]))


def test_gallery_threshold_when_the_data_resolves_it() -> None:
    tail = ScoreTail.from_scores(FULL, keep=500)
    result = gallery_threshold(tail, gallery_size=100, target_fpir=0.01)
    far_required = 1 - 0.99 ** (1 / 100)  # 1.005e-4, needs 29,806 comparisons; there are 100,000
    assert result["far_required"] == pytest.approx(far_required, rel=1e-9)
    assert result["resolvable"] is True
    assert result["threshold"] == threshold_at_rate(FULL, far_required)
    assert result["far"]["total"] == 100_000 and result["far"]["count"] == accepted(FULL, result["threshold"]) <= 10
    assert result["fpir_expected"] == pytest.approx(fpir_for_gallery(result["far"]["count"] / 100_000, 100))
    assert result["fpir_expected"] <= 0.01 < result["fpir_upper"]


def test_gallery_threshold_when_the_data_cannot_resolve_it() -> None:
    small = ScoreTail.from_scores(FULL[:1000])
    result = gallery_threshold(small, gallery_size=100, target_fpir=0.01)  # 1,000 < 29,806 comparisons
    assert result["resolvable"] is False
    assert (result["threshold"], result["far"], result["fpir_expected"], result["fpir_upper"]) == (None,) * 4
    # Enough comparisons, but the kept tail is too short to reach the answer (m = 10, 5 stored).
    short = gallery_threshold(ScoreTail.from_scores(FULL, keep=5), gallery_size=100, target_fpir=0.01)
    assert short["resolvable"] is True and short["threshold"] is None and short["far"] is None
