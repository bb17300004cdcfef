"""Health checks of the parts the platform cannot work without: PostgreSQL+pgvector, Redis, Triton
and a Celery worker. Each check takes its target explicitly (tests point one at a stopped service)
and returns a small JSON-able dict; none raises. `health_run` runs a set of them concurrently.

Which checks make up `/healthz` is decided at the project level (backend/health.py): the Triton
check needs the inference client's circuit breaker, which lives above core."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    ok: bool
    detail: str
    info: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: float = 0.0


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a health check reports, it never raises
        # Type only: exception text may carry connection strings with credentials.
        result = CheckResult(ok=False, detail=f"unreachable ({type(exc).__name__})")
    result.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database(alias: str = "default") -> CheckResult:
    from django.db import connections

    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
    finally:
        # Health runs in a worker thread; its connection must not leak.
        connection.close()
    if row is None:
        return CheckResult(ok=False, detail="pgvector extension missing", info={"server_version": server_version})
    return CheckResult(ok=True, detail="ok", info={"server_version": server_version, "pgvector": row[0]})


def check_redis(url: str, timeout_s: float = 1.0) -> CheckResult:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return CheckResult(ok=True, detail="ok", info={"version": version})


def check_triton(
    url: str,
    required_models: Iterable[str],
    *,
    breaker_state: Callable[[], str],
    timeout_s: float = 2.0,
) -> CheckResult:
    """Triton is live and every required model READY; `breaker_state` tells the state of this
    process's inference circuit breaker (an open breaker is unhealthy even when Triton answers)."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=url)
    try:
        if not client.is_server_live(client_timeout=timeout_s):
            return CheckResult(ok=False, detail="not live")
        index = client.get_model_repository_index(as_json=True, client_timeout=timeout_s)
    finally:
        client.close()
    states = {model["name"]: model.get("state", "UNAVAILABLE") for model in index.get("models", [])}
    ready = sorted(name for name, state in states.items() if state == "READY")
    missing = [name for name in required_models if states.get(name) != "READY"]
    info: dict[str, Any] = {"ready_models": ready, "breaker": breaker_state()}
    if missing:
        info["not_ready"] = missing
        return CheckResult(ok=False, detail=f"models not ready: {', '.join(missing)}", info=info)
    if info["breaker"] == "open":
        # Triton answers the probe, but this process's recent inference calls kept failing.
        return CheckResult(ok=False, detail="inference circuit breaker open", info=info)
    return CheckResult(ok=True, detail="ok", info=info)


def check_celery(timeout_s: float = 1.0) -> CheckResult:
    from backend.celery import app

    # Connect first with one bounded try: with the broker down, ping would otherwise retry forever.
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout_s)
        # limit=1: return at the first answer instead of waiting out the timeout for more.
        replies = app.control.ping(timeout=timeout_s, connection=connection, limit=1)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return CheckResult(ok=False, detail="no worker answered")
    return CheckResult(ok=True, detail="ok", info={"workers": workers})


def health_run(checks: dict[str, Callable[[], CheckResult]]) -> dict[str, Any]:
    """Run the checks concurrently (the slowest bounds the latency) and summarise."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = {name: pool.submit(_timed, check) for name, check in checks.items()}
        results = {name: future.result() for name, future in futures.items()}
    failing = sorted(name for name, result in results.items() if not result.ok)
    return {
        "status": "ok" if not failing else "unhealthy",
        "failing": failing,
        "checks": {name: asdict(result) for name, result in results.items()},
    }
