"""1:N search of face templates, complete under the eligibility filter.

Eligible = a template of the probe's model version, of an `active` subject whose expiry has not
passed, on one of the given (active, in-scope) watchlists. The filter is applied inside the query,
never after a LIMIT, so a filter can never hide a candidate (the trap of a filtered HNSW scan, see
docs/architecture.md "1:N search").

Two plans, chosen per query by the number of templates on the searched lists
(`SEARCH_EXACT_MAX_TEMPLATES`, 20,000 by default):
- exact: score every eligible template (B-tree on (model_version, watchlist), or a scan), keep the
  nearest. Complete and exact by construction. Measured (benchmark.py, face-like synthetic data,
  2 cores): 0.5 ms for 57 eligible rows, 2.7 ms for 900, 25 ms for 9,000 in a 1M-row table.
- hnsw: above the crossover, the HNSW index with pgvector's iterative scan (`relaxed_order`) walks
  the graph until enough rows pass the filter; the rows are re-ranked exactly. Approximate: recall@1
  0.98 at 100k templates (ef 100, 1.8 ms), 0.96 at 1M (ef 400, 9 ms) where exact takes 270 ms. If
  it returns fewer subjects than asked while more are eligible, the exact plan runs instead.

Scores are cosine similarities of unit templates: score = -(a <#> b). Candidates are per subject
(the best of a subject's templates), best first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from .models import Subject, Watchlist

logger = logging.getLogger(__name__)

Plan = Literal["exact", "hnsw"]
COUNTS_CACHE_SECONDS = 60
# Both plans fetch this many templates per requested candidate before per-subject grouping
# (a subject with several photos fills several rows); the HNSW plan re-ranks them exactly.
OVERFETCH = 4

_ELIGIBLE = """
    FROM watchlists_facetemplate t
    JOIN watchlists_subject s ON s.id = t.subject_id
    WHERE t.model_version = %(model_version)s
      AND t.watchlist_id = ANY(%(watchlists)s::bigint[])
      AND s.status = %(active)s
      AND s.expires_at > %(now)s
"""

# Only constant fragments are joined below; every value is a bound parameter.
_SCORED = f"""
    SELECT t.id, t.subject_id, t.photo_id, t.watchlist_id, t.embedding <#> %(probe)s::vector AS distance
    {_ELIGIBLE}
"""
# Best template per subject among `nearest`, best subjects first, with how many rows `nearest` had.
_GROUP = """
    SELECT id, subject_id, photo_id, watchlist_id, distance, (SELECT count(*) FROM nearest) AS fetched
    FROM (SELECT DISTINCT ON (subject_id) * FROM nearest ORDER BY subject_id, distance) best
    ORDER BY distance
    LIMIT %(k)s
"""
# Exact: score every eligible row (the materialised CTE has no ORDER BY, so the planner can never
# reach for the HNSW index), then keep the `fetch` nearest. If those hold k subjects, they are the
# k best subjects: every template ranked above a subject's best belongs to a better subject.
_EXACT_SQL = f"""
    WITH scored AS MATERIALIZED ({_SCORED}),
         nearest AS (SELECT * FROM scored ORDER BY distance LIMIT %(fetch)s)
    {_GROUP}
"""  # noqa: S608
# Exact, every subject: for the rare probe whose `fetch` nearest rows hold fewer than k subjects.
_EXACT_ALL_SQL = f"""
    WITH nearest AS MATERIALIZED ({_SCORED})
    {_GROUP}
"""
# HNSW: the index walks the graph in distance order; with iterative scan it keeps walking until
# `fetch` rows pass the filter. Distances are exact, so the grouping re-ranks exactly.
_HNSW_SQL = f"""
    WITH nearest AS MATERIALIZED (
        {_SCORED}
        ORDER BY t.embedding <#> %(probe)s::vector
        LIMIT %(fetch)s
    )
    {_GROUP}
"""


@dataclass(frozen=True)
class Candidate:
    subject_id: int
    subject_name: str
    watchlist_id: int
    watchlist_name: str
    category: str
    priority: int
    score: float
    threshold: float
    above_threshold: bool
    template_id: int
    photo_id: int


@dataclass(frozen=True)
class SearchResult:
    candidates: list[Candidate]
    plan: Plan | None  # None: no watchlist to search
    eligible_templates: int  # templates of the searched watchlists (cached count, before the subject filter)


def watchlists_searchable(
    *, zone_ids: Sequence[int] | None = None, watchlist_ids: Sequence[int] | None = None
) -> list[Watchlist]:
    """Active watchlists, limited to zones and/or ids when given (None = no limit)."""
    watchlists = Watchlist.objects.filter(active=True)
    if zone_ids is not None:
        watchlists = watchlists.filter(zone_id__in=list(zone_ids))
    if watchlist_ids is not None:
        watchlists = watchlists.filter(pk__in=list(watchlist_ids))
    return list(watchlists)


def template_counts(*, model_version: str) -> dict[int, int]:
    """Templates per watchlist for one model version, cached briefly: the count only picks the
    plan (speed), never which rows are eligible (correctness)."""
    key = "watchlists:template-counts:" + hashlib.sha256(model_version.encode()).hexdigest()[:16]
    counts: dict[int, int] | None = cache.get(key)
    if counts is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT watchlist_id, count(*) FROM watchlists_facetemplate WHERE model_version = %s GROUP BY 1",
                [model_version],
            )
            counts = {int(w): int(n) for w, n in cursor.fetchall()}
        cache.set(key, counts, COUNTS_CACHE_SECONDS)
    return counts


def plan_choose(*, eligible: int) -> Plan:
    return "exact" if eligible <= settings.SEARCH_EXACT_MAX_TEMPLATES else "hnsw"


def _vector_literal(embedding: np.ndarray) -> str:
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(vector)):
        raise ValueError("probe template has non-finite values")
    return "[" + ",".join(f"{v:.7g}" for v in vector) + "]"


def hnsw_ef(*, eligible: int) -> int:
    """ef_search grows with the gallery: on face-like data recall@1 at ef 100 was 0.98 at 100k
    templates but 0.84 at 1M, where ef 400 gave 0.96 at 9 ms (backend/benchmarks/search.py)."""
    return settings.SEARCH_HNSW_EF if eligible <= 100_000 else settings.SEARCH_HNSW_EF_LARGE


def _run(sql: str, params: dict[str, Any], *, ef: int | None = None) -> list[tuple[Any, ...]]:
    """ef: run the HNSW plan with this ef_search; None for the exact plans."""
    with transaction.atomic(), connection.cursor() as cursor:
        if ef is not None:
            # SET LOCAL: scoped to this transaction, so pooled connections keep their defaults.
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef)])
            # The plan was chosen because the eligible set is large: walk the HNSW graph (the only
            # way to get rows in distance order without a sort) rather than let the planner's row
            # estimates, often stale on a growing table, pick a scan and sort.
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _params(embedding: np.ndarray, model_version: str, watchlist_ids: list[int], k: int) -> dict[str, Any]:
    return {
        "probe": _vector_literal(embedding),
        "model_version": model_version,
        "watchlists": watchlist_ids,
        "active": Subject.Status.ACTIVE,
        # The moment of the search, not the transaction's start (PostgreSQL's now()): a search in
        # a long transaction must still refuse a listing that expired a second ago.
        "now": timezone.now(),
        "k": k,
        "fetch": k * OVERFETCH,
    }


def template_search_explain(
    *, embedding: np.ndarray, model_version: str, watchlists: Sequence[Watchlist], k: int, plan: Plan
) -> str:
    """PostgreSQL's plan for one search (tests and operators check which index a plan uses)."""
    sql = "EXPLAIN " + (_HNSW_SQL if plan == "hnsw" else _EXACT_SQL)
    params = _params(embedding, model_version, [w.pk for w in watchlists], k)
    ef = settings.SEARCH_HNSW_EF if plan == "hnsw" else None
    return "\n".join(str(row[0]) for row in _run(sql, params, ef=ef))


def template_search(
    *,
    embedding: np.ndarray,
    model_version: str,
    watchlists: Sequence[Watchlist],
    k: int = 5,
    plan: Plan | None = None,
) -> SearchResult:
    """The k best subjects for one probe template among the eligible ones. `plan` forces a plan
    (tests, benchmarks); normally it is chosen from the eligible count."""
    if k < 1 or not watchlists:
        return SearchResult([], None, 0)
    by_id = {w.pk: w for w in watchlists}
    counts = template_counts(model_version=model_version)
    # A stale (cached) zero must not hide fresh enrolments: zero runs the exact plan, which is
    # instant on an empty set.
    eligible = sum(counts.get(pk, 0) for pk in by_id)
    chosen = plan or plan_choose(eligible=eligible)
    params = _params(embedding, model_version, list(by_id), k)
    rows: list[tuple[Any, ...]] = []
    if chosen == "hnsw":
        rows = _run(_HNSW_SQL, params, ef=hnsw_ef(eligible=eligible))
        if len(rows) < k and eligible > len(rows):
            logger.info("hnsw search gave %s of %s subjects; running the exact plan", len(rows), k)
            chosen = "exact"
    if chosen == "exact":
        rows = _run(_EXACT_SQL, params)
        if len(rows) < k and rows and rows[0][5] >= params["fetch"]:
            rows = _run(_EXACT_ALL_SQL, params)  # a few subjects own all the nearest rows
    names = dict(Subject.objects.filter(pk__in=[r[1] for r in rows]).values_list("pk", "full_name"))
    candidates = []
    for template_id, subject_id, photo_id, watchlist_id, distance, _fetched in rows:
        watchlist = by_id[int(watchlist_id)]
        score = round(-float(distance), 6)
        candidates.append(
            Candidate(
                subject_id=int(subject_id),
                subject_name=names.get(subject_id, ""),
                watchlist_id=int(watchlist_id),
                watchlist_name=watchlist.name,
                category=watchlist.category,
                priority=watchlist.priority,
                score=score,
                threshold=watchlist.match_threshold,
                above_threshold=score >= watchlist.match_threshold,
                template_id=int(template_id),
                photo_id=int(photo_id),
            )
        )
    return SearchResult(candidates, chosen, eligible)
