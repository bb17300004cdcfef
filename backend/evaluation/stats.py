"""Accuracy statistics for face comparison scores: error rates with honest confidence intervals.

A rate measured on a finite set of pairs is an estimate, and at the operating points that matter (FAR 1e-3,
1e-4) the number of impostor pairs is often too small to say anything at all. Every rate here therefore carries
its interval (exact Clopper-Pearson by default), and every operating point says whether the data can resolve it
(`resolvable`: would zero observed errors bound the rate below the target?). Thresholds are read off the sorted
scores exactly, never off a grid, so "at most 0.1% of impostors accepted" holds on the data by construction.

Scores are similarities: higher means more alike, and a comparison is accepted when score >= threshold.
A score of -inf (identification only) means "no usable face or the wrong rank-1 candidate": it is never accepted.

Pure numpy/scipy: no Django, so it runs in tests, notebooks and management commands alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
METHODS = ("clopper-pearson", "wilson")
# Guards floor(target * n) against float products such as 0.29 * 100 == 28.999999999999996.
_FLOOR_EPS = 1e-9


@dataclass(frozen=True)
class Rate:
    count: int  # k events
    total: int  # n trials
    value: float | None  # k/n, None when n == 0
    low: float | None  # two-sided interval at CONFIDENCE, None when n == 0
    high: float | None
    method: str  # "clopper-pearson" or "wilson"

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total": self.total,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "method": self.method,
        }


def _check_counts(k: int, n: int) -> None:
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def clopper_pearson(k: int, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial interval: conservative (covers at least `confidence`), which is what an error bound needs."""
    _check_counts(k, n)
    _check_confidence(confidence)
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(sps.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def wilson(k: int, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval: narrower than Clopper-Pearson, for when an approximate interval is enough."""
    _check_counts(k, n)
    _check_confidence(confidence)
    z = float(sps.norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int, *, method: str = "clopper-pearson", confidence: float = CONFIDENCE) -> Rate:
    if method not in METHODS:
        raise ValueError(f"unknown interval method {method!r}; known: {', '.join(METHODS)}")
    if n == 0 and k == 0:
        return Rate(count=0, total=0, value=None, low=None, high=None, method=method)
    interval = clopper_pearson if method == "clopper-pearson" else wilson
    low, high = interval(k, n, confidence=confidence)
    return Rate(count=k, total=n, value=k / n, low=low, high=high, method=method)


def min_trials_for(target: float, *, confidence: float = CONFIDENCE) -> int:
    """Smallest n for which zero observed events bound the rate below `target` at this confidence.

    This is the one-sided bound (1 - target) ** n <= 1 - confidence, about 3 / target at 95% (the "rule of
    three"). It is the least data that can say anything about `target`: fewer trials cannot tell a rate of
    `target` from zero even when nothing goes wrong.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target rate must lie in (0, 1), got {target}")
    _check_confidence(confidence)
    return math.ceil(math.log(1 - confidence) / math.log1p(-target))


def resolvable(target: float, n: int, *, confidence: float = CONFIDENCE) -> bool:
    return n >= min_trials_for(target, confidence=confidence)


def _as_scores(scores: np.ndarray, *, allow_minus_inf: bool) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64).ravel()
    if np.isnan(array).any() or np.isposinf(array).any():
        raise ValueError("scores must not contain NaN or +inf")
    if not allow_minus_inf and np.isneginf(array).any():
        raise ValueError("scores must be finite here")
    return array


def _floor_count(target: float, n: int) -> int:
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target rate must lie in [0, 1], got {target}")
    return math.floor(target * n + _FLOOR_EPS)


def _threshold_from_descending(descending: np.ndarray, m: int) -> float:
    """Lowest threshold accepting at most m of these scores (sorted descending, -inf allowed, never accepted)."""
    if m < len(descending) and np.isfinite(descending[m]):
        # Everything from index m down, ties with s[m] included, falls below the threshold: at most m remain.
        return float(np.nextafter(descending[m], np.inf))
    # Every finite score may be accepted: the smallest one is the natural threshold (-inf if there is none).
    finite = descending[np.isfinite(descending)]
    return float(finite[-1]) if len(finite) else -math.inf


def threshold_at_rate(negative_scores: np.ndarray, target: float) -> float:
    """The lowest threshold at which at most floor(target * n) of the negatives are accepted (score >= t).

    -inf scores count in n but are never accepted. When every finite score may be accepted the answer is the
    smallest finite score (there is no lowest threshold then), and -inf when no score is finite.
    """
    scores = _as_scores(negative_scores, allow_minus_inf=True)
    if len(scores) == 0:
        raise ValueError("need at least one negative score")
    descending = np.sort(scores)[::-1]
    return _threshold_from_descending(descending, _floor_count(target, len(scores)))


def accepted(scores: np.ndarray, threshold: float) -> int:
    return int(np.count_nonzero(np.asarray(scores, dtype=np.float64) >= threshold))


def _error_curves(genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FAR (impostor >= t) and FRR (genuine < t) at each threshold, by binary search on the sorted scores."""
    genuine_sorted = np.sort(genuine)
    impostor_sorted = np.sort(impostor)
    far = (len(impostor_sorted) - np.searchsorted(impostor_sorted, thresholds, side="left")) / len(impostor_sorted)
    frr = np.searchsorted(genuine_sorted, thresholds, side="left") / len(genuine_sorted)
    return far, frr


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    """Where FAR and FRR cross, searched over the observed scores; the lowest such threshold on ties."""
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    far, frr = _error_curves(genuine, impostor, thresholds)
    best = int(np.argmin(np.abs(far - frr)))
    return {"value": float((far[best] + frr[best]) / 2), "threshold": float(thresholds[best])}


def _percentiles(scores: np.ndarray, names: Sequence[tuple[str, float]]) -> dict[str, float]:
    return {name: float(np.percentile(scores, q)) for name, q in names}


def _operating_point(genuine: np.ndarray, impostor: np.ndarray, target: float) -> dict[str, Any]:
    point: dict[str, Any] = {"target": target, "resolvable": resolvable(target, len(impostor))}
    if not point["resolvable"]:
        return point | {"threshold": None, "tar": None, "far": None, "frr": None}
    threshold = threshold_at_rate(impostor, target)
    genuine_accepted = accepted(genuine, threshold)
    return point | {
        "threshold": threshold,
        "tar": rate(genuine_accepted, len(genuine)).as_dict(),
        "far": rate(accepted(impostor, threshold), len(impostor)).as_dict(),
        "frr": rate(len(genuine) - genuine_accepted, len(genuine)).as_dict(),
    }


def verification(
    genuine: np.ndarray, impostor: np.ndarray, *, far_targets: Sequence[float] = (1e-2, 1e-3, 1e-4)
) -> dict[str, Any]:
    """1:1 verification accuracy of finite genuine (same person) and impostor (different people) scores."""
    genuine = _as_scores(genuine, allow_minus_inf=False)
    impostor = _as_scores(impostor, allow_minus_inf=False)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("verification needs at least one genuine and one impostor score")
    return {
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "eer": equal_error_rate(genuine, impostor),
        "at_far": [_operating_point(genuine, impostor, target) for target in far_targets],
        "genuine_summary": _percentiles(genuine, [("p1", 1), ("p5", 5), ("median", 50), ("min", 0)]),
        "impostor_summary": _percentiles(impostor, [("median", 50), ("p99", 99), ("p999", 99.9), ("max", 100)]),
        "histogram": score_histogram(genuine, impostor),
    }


def score_histogram(
    genuine: np.ndarray, impostor: np.ndarray, *, lo: float = -0.2, hi: float = 1.0, bins: int = 120
) -> dict[str, Any]:
    """Counts on a fixed grid so histograms of different runs line up; -inf ("no face") scores are left out."""
    edges = np.linspace(lo, hi, bins + 1)

    def counts(scores: np.ndarray) -> list[int]:
        finite = _as_scores(scores, allow_minus_inf=True)
        finite = finite[np.isfinite(finite)]
        # Clipping keeps out-of-range scores visible in the end bins rather than silently dropping them.
        histogram, _ = np.histogram(np.clip(finite, lo, hi), bins=edges)
        return [int(count) for count in histogram]

    return {"edges": [float(edge) for edge in edges], "genuine": counts(genuine), "impostor": counts(impostor)}


def _evenly_spaced(sorted_values: np.ndarray, count: int) -> np.ndarray:
    """`count` entries at evenly spaced ranks, first and last included."""
    return sorted_values[np.unique(np.round(np.linspace(0, len(sorted_values) - 1, count)).astype(int))]


def _log_spaced_tail(sorted_values: np.ndarray, count: int) -> np.ndarray:
    """`count` entries at ranks 1, 2, 4, ... from the start: the rare-error end a DET plot is read at."""
    if count < 1:
        return sorted_values[:0]
    ranks = np.unique(np.round(np.geomspace(1, len(sorted_values), count)).astype(int)) - 1
    return sorted_values[ranks]


def det_points(genuine: np.ndarray, impostor: np.ndarray, *, max_points: int = 400) -> dict[str, list[float]]:
    """FAR/FRR pairs for a DET curve at up to max_points observed scores, the extremes always included.

    When there are more distinct scores than max_points, half of the points are evenly spaced quantiles of the
    union and a quarter each sit at log-spaced ranks of the highest impostor and the lowest genuine scores:
    quantiles alone put one point per ~0.25% of the scores and draw FAR 1e-4..1e-3 as a single straight segment.
    """
    if max_points < 2:
        raise ValueError("a DET curve needs at least two points")
    genuine = _as_scores(genuine, allow_minus_inf=False)
    impostor = _as_scores(impostor, allow_minus_inf=False)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("a DET curve needs at least one genuine and one impostor score")
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    if len(thresholds) > max_points:
        tail = max_points // 4
        parts = [
            _evenly_spaced(thresholds, max_points - 2 * tail),
            _log_spaced_tail(np.unique(impostor)[::-1], tail),
            _log_spaced_tail(np.unique(genuine), tail),
        ]
        thresholds = np.unique(np.concatenate(parts))
    far, frr = _error_curves(genuine, impostor, thresholds)
    return {"threshold": thresholds.tolist(), "far": far.tolist(), "frr": frr.tolist()}


def _search_rates(mated: np.ndarray, non_mated: np.ndarray, threshold: float) -> dict[str, Any]:
    mated_hits = accepted(mated, threshold)
    return {
        "threshold": threshold,
        "fpir": rate(accepted(non_mated, threshold), len(non_mated)).as_dict(),
        "tpir": rate(mated_hits, len(mated)).as_dict(),
        "fnir": rate(len(mated) - mated_hits, len(mated)).as_dict(),
    }


def _fallback_threshold(mated: np.ndarray, non_mated: np.ndarray) -> float:
    """Used when no non-mated search produced a finite score: just below every finite score seen, or 0."""
    both = np.concatenate([mated, non_mated])
    finite = both[np.isfinite(both)]
    return float(finite.min()) - 1e-6 if len(finite) else 0.0


def identification(
    mated_scores: np.ndarray,
    non_mated_scores: np.ndarray,
    *,
    fpir_targets: Sequence[float] = (1e-2, 1e-3, 1e-4),
    fixed_thresholds: Sequence[float] = (),
) -> dict[str, Any]:
    """Open-set 1:N accuracy at rank 1 (NIST FRVT conventions).

    mated_scores: one per mated search, the rank-1 score when that candidate is the right person, else -inf
    (wrong rank-1 candidate or no usable face: a failure to acquire counts as a miss).
    non_mated_scores: one per non-mated search, the rank-1 score, -inf when there was no usable face.
    At an FPIR target whose threshold would be -inf (no non-mated search scored at all), the threshold becomes
    the smallest finite score seen minus 1e-6, or 0.0 when there is none, so it stays a usable number.
    """
    mated = _as_scores(mated_scores, allow_minus_inf=True)
    non_mated = _as_scores(non_mated_scores, allow_minus_inf=True)
    at_fpir = []
    for target in fpir_targets:
        point: dict[str, Any] = {"target": target, "resolvable": resolvable(target, len(non_mated))}
        if not point["resolvable"]:
            at_fpir.append(point | {"threshold": None, "fpir": None, "tpir": None, "fnir": None})
            continue
        threshold = threshold_at_rate(non_mated, target)
        if not math.isfinite(threshold):
            threshold = _fallback_threshold(mated, non_mated)
        at_fpir.append(point | _search_rates(mated, non_mated, threshold))
    return {
        "mated_searches": len(mated),
        "non_mated_searches": len(non_mated),
        "rank1": rate(int(np.count_nonzero(np.isfinite(mated))), len(mated)).as_dict(),
        "at_fpir": at_fpir,
        "at_threshold": [_search_rates(mated, non_mated, float(t)) for t in fixed_thresholds],
    }


def _check_gallery(probability: float, gallery_size: int) -> None:
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"a rate must lie in [0, 1], got {probability}")
    if gallery_size < 1:
        raise ValueError(f"gallery_size must be at least 1, got {gallery_size}")


def fpir_for_gallery(far: float, gallery_size: int) -> float:
    """Chance that at least one of gallery_size independent comparisons is a false accept."""
    _check_gallery(far, gallery_size)
    if far == 1.0:
        return 1.0
    # log1p/expm1 keep precision at the tiny rates that matter (1 - (1 - 1e-7) ** N loses digits).
    return -math.expm1(gallery_size * math.log1p(-far))


def far_for_gallery(fpir: float, gallery_size: int) -> float:
    """The per-comparison FAR that gives this FPIR over gallery_size independent comparisons."""
    _check_gallery(fpir, gallery_size)
    if fpir == 1.0:
        return 1.0
    return -math.expm1(math.log1p(-fpir) / gallery_size)


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarrays field-wise has no single truth value
class ScoreTail:
    """The highest scores of a large set of non-mated comparisons, plus how many comparisons there were:
    enough to answer "what share of comparisons score >= t" for any t down to the smallest stored score.

    Invariant: every comparison not stored scored strictly lower than every stored one (from_scores drops a
    group of ties that straddles the cut), so counts at the smallest stored score are exact too.
    """

    total: int
    scores: np.ndarray  # descending

    def __post_init__(self) -> None:
        if len(self.scores) > self.total:
            raise ValueError(f"{len(self.scores)} scores stored but only {self.total} comparisons")
        if len(self.scores) > 1 and np.any(np.diff(self.scores) > 0):
            raise ValueError("ScoreTail scores must be in descending order")

    @classmethod
    def from_scores(cls, scores: np.ndarray, *, keep: int = 5000) -> ScoreTail:
        if keep < 0:
            raise ValueError(f"keep must not be negative, got {keep}")
        array = _as_scores(scores, allow_minus_inf=False)
        descending = np.sort(array)[::-1]
        if len(descending) > keep:
            cut = descending[keep] if keep > 0 else np.inf
            descending = descending[:keep]
            descending = descending[descending > cut]
        return cls(total=len(array), scores=descending.copy())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreTail:
        return cls(total=int(data["total"]), scores=np.asarray(data["scores"], dtype=np.float64))

    def as_dict(self) -> dict[str, Any]:
        # Six decimals is far finer than any threshold anyone sets, and keeps the stored JSON small.
        return {"total": self.total, "scores": [round(float(score), 6) for score in self.scores]}

    @property
    def complete(self) -> bool:
        return len(self.scores) == self.total

    def rate_at(self, threshold: float, *, confidence: float = CONFIDENCE) -> Rate | None:
        """Share of all comparisons scoring >= threshold; None when the answer depends on unstored scores."""
        if not self.complete and (len(self.scores) == 0 or threshold < self.scores[-1]):
            return None
        return rate(accepted(self.scores, threshold), self.total, confidence=confidence)

    def threshold_for(self, target: float) -> float | None:
        """threshold_at_rate over all `total` comparisons; None when the answer lies below the stored tail."""
        if self.total == 0:
            return None
        m = _floor_count(target, self.total)
        if m < len(self.scores) or self.complete:
            return _threshold_from_descending(self.scores, m)
        return None


def gallery_threshold(
    tail: ScoreTail, *, gallery_size: int, target_fpir: float, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """The threshold a watchlist of gallery_size templates needs so that a non-mated face's FPIR <= target_fpir.

    Assumes the gallery_size comparisons of one search are independent, which makes FPIR a function of the
    per-comparison FAR; real galleries (several templates per person, look-alikes) make it somewhat optimistic.
    """
    far_required = far_for_gallery(target_fpir, gallery_size)
    result: dict[str, Any] = {
        "gallery_size": gallery_size,
        "target_fpir": target_fpir,
        "far_required": far_required,
        "resolvable": 0 < far_required < 1 and resolvable(far_required, tail.total, confidence=confidence),
        "threshold": None,
        "far": None,
        "fpir_expected": None,
        "fpir_upper": None,
    }
    threshold = tail.threshold_for(far_required) if result["resolvable"] else None
    far = tail.rate_at(threshold, confidence=confidence) if threshold is not None else None
    if threshold is None or far is None or far.value is None or far.high is None:
        return result
    return result | {
        "threshold": threshold,
        "far": far.as_dict(),
        "fpir_expected": fpir_for_gallery(far.value, gallery_size),
        "fpir_upper": fpir_for_gallery(far.high, gallery_size),
    }
