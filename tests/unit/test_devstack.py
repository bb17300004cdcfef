"""The stack's failure messages: one actionable line, nothing half-started."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.devstack import services
from backend.devstack.config import DATA_LAYOUT_VERSION, ROOT, StackError, load_config
from backend.devstack.processes import ManagedProcess, require_free_port


def test_port_in_use_names_the_port_service_and_variable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError) as error:
            require_free_port(port, "PostgreSQL", "FR_PG_PORT")
    message = str(error.value)
    assert f"port {port}" in message and "PostgreSQL" in message and "FR_PG_PORT" in message
    assert "\n" not in message


def test_bad_port_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FR_PG_PORT", "not-a-port")
    with pytest.raises(StackError, match="FR_PG_PORT"):
        load_config("run")


def test_test_profile_uses_its_own_ports_and_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FR_TEST_PG_PORT", "FR_TEST_DATA_DIR", "FR_PG_PORT", "FR_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    run, test = load_config("run"), load_config("test")
    assert (run.pg_port, run.redis_port, run.triton_grpc_port, run.web_port) == (5433, 6380, 8011, 8000)
    assert test.pg_port != run.pg_port and test.data_dir != run.data_dir


def _config_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FR_DATA_DIR", str(tmp_path / "var"))
    return load_config("run")


def test_data_folder_of_an_older_layout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_in(tmp_path, monkeypatch)
    (config.data_dir / "postgres").mkdir(parents=True)  # an old folder: data but no layout marker
    with pytest.raises(StackError, match="older version"):
        services.prepare_data_dir(config)
    (config.data_dir / "LAYOUT_VERSION").write_text("0\n")
    with pytest.raises(StackError, match=f"layout 0, this version needs {DATA_LAYOUT_VERSION}"):
        services.prepare_data_dir(config)


def test_new_data_folder_is_initialised_with_private_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_in(tmp_path, monkeypatch)
    services.prepare_data_dir(config)
    first = services.secret(config, "postgres_password")
    assert services.secret(config, "postgres_password") == first  # generated once, then reused
    assert (config.secrets_dir / "postgres_password").stat().st_mode & 0o077 == 0


def test_postgres_cluster_of_another_major_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_in(tmp_path, monkeypatch)
    services.prepare_data_dir(config)
    (config.data_dir / "postgres").mkdir()
    (config.data_dir / "postgres" / "PG_VERSION").write_text("15\n")
    with pytest.raises(StackError, match="PostgreSQL 15 cluster"):
        services.postgres_init(config, "pw")


def test_a_service_that_dies_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess(
        name="Broken",
        argv=[sys.executable, "-c", "import sys; print('bad config line 3'); sys.exit(3)"],
        log_path=tmp_path / "broken.log",
        ready=lambda: False,
        ready_timeout_s=10,
    )
    process.start()
    with pytest.raises(StackError) as error:
        process.wait_ready()
    assert "exited during start-up (code 3)" in str(error.value)
    assert "bad config line 3" in str(error.value)


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A parent that ignores SIGTERM and has a child: both must be gone after stop().
    script = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); print('up', flush=True); time.sleep(60)"
    )
    process = ManagedProcess(
        name="Stubborn",
        argv=[sys.executable, "-c", script],
        log_path=tmp_path / "s.log",
        ready=lambda: "up" in (tmp_path / "s.log").read_text(),
        ready_timeout_s=10,
        stop_timeout_s=1,
    )
    process.start()
    process.wait_ready()
    assert process.process is not None
    pgid = process.process.pid
    process.stop()
    time.sleep(0.5)
    table = subprocess.run(["ps", "-e", "-o", "pgid=,stat="], capture_output=True, text=True).stdout
    living = [
        line for line in table.splitlines() if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
    ]
    assert living == []  # zombies awaiting their reaper are dead already


def test_devstack_usage_error_exits_nonzero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend.devstack", "bogus"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage" in result.stderr
