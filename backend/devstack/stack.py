"""Start the services in dependency order, stop them in reverse; one clear line on failure and
nothing left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from . import services
from .config import ROOT, StackConfig, StackError, python_for
from .processes import ManagedProcess, require_free_port


class StopRequested(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.running: list[ManagedProcess] = []
        self.env: dict[str, str] = {}
        # What only the owner (migration) role's commands get: its DATABASE_URL and the app role's
        # password to set. Never in self.env, so no app process can read the owner's credentials.
        self.owner_env: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------------------
    def start_process(self, process: ManagedProcess) -> None:
        say(f"starting {process.name} ...")
        process.start()
        self.running.append(process)
        took = process.wait_ready()
        say(f"{process.name} ready ({took:.1f} s)")

    def stop_all(self) -> None:
        for process in reversed(self.running):
            if not process.exited():
                say(f"stopping {process.name}")
            process.stop()
        self.running.clear()

    def check_ports(self, include_web: bool) -> None:
        c = self.config
        prefix = "FR_TEST_" if c.profile == "test" else "FR_"
        if not c.external_database_url:
            require_free_port(c.pg_port, "PostgreSQL", f"{prefix}PG_PORT")
        if not c.external_redis_url:
            require_free_port(c.redis_port, "Valkey/Redis", f"{prefix}REDIS_PORT")
        if not c.external_triton_url:
            for port, what in (
                (c.triton_http_port, "HTTP"),
                (c.triton_grpc_port, "gRPC"),
                (c.triton_metrics_port, "metrics"),
            ):
                require_free_port(port, f"Triton {what}", f"{prefix}TRITON_{what.upper()}_PORT")
        if include_web:
            require_free_port(c.web_port, "web", f"{prefix}WEB_PORT")

    def start_infrastructure(self) -> None:
        """PostgreSQL, Valkey and Triton (each unless the environment names an outside one)."""
        c = self.config
        services.prepare_data_dir(c)
        env = {
            "DJANGO_SETTINGS_MODULE": c.settings_module,
            "FR_DATA_DIR": str(c.data_dir),
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or services.secret(c, "django_secret_key"),
        }
        if c.external_database_url:
            env["DATABASE_URL"] = c.external_database_url
            self.owner_env = {"DATABASE_URL": c.external_database_url}
        else:
            password = services.secret(c, "postgres_password")
            app_password = services.secret(c, "postgres_app_password")
            self.start_process(services.postgres_process(c, password))
            services.postgres_ensure_database(c, password, c.database_name)
            where = f"127.0.0.1:{c.pg_port}/{c.database_name}"
            owner_url = f"postgres://postgres:{password}@{where}"
            app_url = f"postgres://{services.DB_APP_ROLE}:{app_password}@{where}"
            self.owner_env = {"DATABASE_URL": owner_url, "FR_DB_APP_PASSWORD": app_password}
            if c.profile == "test":
                # pytest is the harness, not the app: it creates, migrates and flushes the test
                # database as the owner, and starts its servers and workers as the app role
                # (tests/conftest.py), which audit_db_roles sets up on the test database.
                env["DATABASE_URL"] = owner_url
                env["FR_DB_APP_PASSWORD"] = app_password
            else:
                env["DATABASE_URL"] = app_url
        if c.external_redis_url:
            env["REDIS_URL"] = c.external_redis_url
        else:
            self.start_process(services.valkey_process(c))
            env["REDIS_URL"] = f"redis://127.0.0.1:{c.redis_port}"
        if c.external_triton_url:
            env["TRITON_URL"] = c.external_triton_url
        else:
            self.start_process(services.triton_process(c))
            env["TRITON_URL"] = f"127.0.0.1:{c.triton_grpc_port}"
        self.env = env

    def manage(self, *args: str, as_owner: bool = False) -> str:
        """One manage.py command as the app role, or `as_owner` (migrate, audit_db_roles)."""
        result = subprocess.run(
            [python_for("backend"), str(ROOT / "manage.py"), *args],
            env={**os.environ, **self.env, **(self.owner_env if as_owner else {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            raise StackError(f"manage.py {' '.join(args)} failed: {last[0]}")
        return result.stdout

    def migrate(self) -> None:
        """Migrations as the owner, then the app role's privileges (audit rows: SELECT/INSERT)."""
        self.manage("migrate", "--noinput", as_owner=True)
        if self.owner_env.get("FR_DB_APP_PASSWORD"):
            self.manage("audit_db_roles", "--role", services.DB_APP_ROLE, as_owner=True)

    def wait_healthy(self, timeout_s: float = 60.0) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.config.web_port}/healthz"
        deadline = time.monotonic() + timeout_s
        report: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    return json.loads(response.read())  # type: ignore[no-any-return]
            except urllib.error.HTTPError as error:
                report = json.loads(error.read() or b"{}")
            except OSError:
                pass
            time.sleep(1)
        failing = ", ".join(report.get("failing", []) or ["web"])
        raise StackError(f"/healthz did not turn healthy within {timeout_s:.0f} s; failing: {failing}")

    def supervise(self) -> None:
        """Block until a signal arrives or a service dies."""
        while True:
            for process in self.running:
                if process.exited():
                    raise StackError(
                        f"{process.name} exited unexpectedly (code {process.returncode()}); see {process.log_path}"
                    )
            time.sleep(1)


def metrics_dir_reset(config: StackConfig) -> Path:
    """An empty folder for the Prometheus samples of this run's processes (web, workers, ingest):
    samples of processes of an earlier run must not be added to this one's."""
    folder = config.data_dir / "prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run(config: StackConfig) -> int:
    """`make run`: the whole stack on the embedded defaults until Ctrl-C."""
    started = time.monotonic()
    stack = Stack(config)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.check_ports(include_web=True)
        stack.start_infrastructure()
        say("applying migrations ...")
        stack.migrate()
        # The registry (2,880 cameras), then the demo: a list enrolled from the datasets, demo cameras
        # replaying dataset media, and the standing demo operation (all idempotent).
        for command in ("bootstrap_admin", "seed_zones", "seed_cameras", "demo_seed"):
            for line in stack.manage(command).splitlines():
                print(f"        {line}", flush=True)
        stack.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir_reset(config))
        stack.start_process(services.celery_worker_process(config, stack.env))
        stack.start_process(services.celery_beat_process(config, stack.env))
        stack.start_process(services.web_process(config, stack.env, config.web_port))
        stack.start_process(services.ingest_process(config, stack.env))
        report = stack.wait_healthy()
        say(
            f"healthy in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{name} {check['detail']}" for name, check in report["checks"].items())
        )
        say(f"dashboard: http://127.0.0.1:{config.web_port}/   health: http://127.0.0.1:{config.web_port}/healthz")
        say(f"logs: {config.log_dir}   data: {config.data_dir}   Ctrl-C stops everything")
        stack.supervise()
    except StopRequested as stop:
        say(f"{stop} received, stopping ...")
        stack.stop_all()
        say("stopped")
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        stack.stop_all()
        return 1
    except BaseException:
        stack.stop_all()
        raise
    return 0


def manage_once(config: StackConfig, manage_args: list[str]) -> int:
    """One manage.py command against the run profile's infrastructure, started for it and stopped after."""
    return _with_infrastructure(
        config,
        [str(ROOT / "manage.py"), *manage_args],
        what=f"manage.py {' '.join(manage_args)}",
        migrate=True,
    )


def test(config: StackConfig, pytest_args: list[str]) -> int:
    """`make test`: the infrastructure on the test ports, pytest against it, then stop."""
    return _with_infrastructure(
        config, ["-m", "pytest", *pytest_args], what="pytest", env={"FR_STACK_LOG_DIR": str(config.log_dir)}
    )


def _with_infrastructure(
    config: StackConfig, args: list[str], *, what: str, migrate: bool = False, env: dict[str, str] | None = None
) -> int:
    """PostgreSQL, Valkey and Triton up, one backend-python command against them, everything stopped
    after (also on Ctrl-C, SIGTERM or a failed start); the command's exit status is returned."""
    stack = Stack(config)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.check_ports(include_web=False)
        stack.start_infrastructure()
        if migrate:
            stack.migrate()
        say(f"running {what} ...")
        result = subprocess.run(
            [python_for("backend"), *args], env={**os.environ, **stack.env, **(env or {})}, cwd=ROOT, check=False
        )
        return result.returncode
    except (StopRequested, KeyboardInterrupt):
        say("interrupted, stopping ...")
        return 130
    except StackError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop_all()
