"""One supervised child process: started in its own session (so Ctrl-C reaches only the
supervisor, which then stops children in order), logging to a file, bound to die with the
supervisor (PR_SET_PDEATHSIG), with a readiness probe and a graceful stop."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import StackError

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, what: str, env_name: str) -> None:
    if not port_is_free(port):
        raise StackError(
            f"port {port} ({what}) is already in use: stop what holds it (`ss -ltnp 'sport = :{port}'`) "
            f"or choose another port with {env_name}=..."
        )


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool]
    ready_timeout_s: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout_s: float = 20.0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
        log.flush()
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Unbuffered: a Python service's log file must be current when someone reads it.
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise StackError(f"{self.name} could not be started ({exc.strerror}: {self.argv[0]})") from None
        finally:
            log.close()

    def wait_ready(self) -> float:
        started = time.monotonic()
        deadline = started + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.exited():
                raise StackError(
                    f"{self.name} exited during start-up (code {self.returncode()}); log {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            with contextlib.suppress(Exception):  # probes raise while the service is still coming up
                if self.ready():
                    return time.monotonic() - started
            time.sleep(0.25)
        raise StackError(
            f"{self.name} was not ready within {self.ready_timeout_s:.0f} s; log {self.log_path}:\n"
            + log_tail(self.log_path)
        )

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def stop(self) -> None:
        """Graceful signal to the whole process group, then SIGKILL after the timeout."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, self.stop_signal)
        except ProcessLookupError:
            return  # already gone
        try:
            self.process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Children the service left in its group (e.g. Triton's python-backend stubs).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
