"""Where the stack keeps its data and which ports it uses: the embedded defaults of
docs/architecture.md, each overridable by an environment variable."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BACKEND_PYTHON = ROOT / ".venv" / "backend" / "bin" / "python"
INFERENCE_PYTHON = ROOT / ".venv" / "inference" / "bin" / "python"
# Bump when the layout of the data folder changes incompatibly; an older folder is refused with
# a message instead of being half-understood.
DATA_LAYOUT_VERSION = "1"
POSTGRES_MAJOR = "18"


class StackError(Exception):
    """A one-line, actionable reason why the stack cannot start."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise StackError(f"{name}={raw!r} is not a port number (1-65535)")
    return int(raw)


@dataclass(frozen=True)
class StackConfig:
    profile: str  # "run" or "test"
    data_dir: Path
    web_port: int
    pg_port: int
    redis_port: int
    triton_http_port: int
    triton_grpc_port: int
    triton_metrics_port: int
    # Outside services given by the environment are used as they are, not started.
    external_database_url: str | None
    external_redis_url: str | None
    external_triton_url: str | None

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def database_name(self) -> str:
        return "facerec"

    @property
    def settings_module(self) -> str:
        return "backend.settings.test" if self.profile == "test" else "backend.settings.local"


def load_config(profile: str) -> StackConfig:
    """Ports of the test profile sit 10 above the run profile's, and its data folder is separate,
    so `make test` can run while `make run` is serving."""
    offset = 10 if profile == "test" else 0
    default_data = ROOT / "var" / ("test" if profile == "test" else "")
    data_dir = Path(os.environ.get("FR_TEST_DATA_DIR" if profile == "test" else "FR_DATA_DIR", default_data))
    prefix = "FR_TEST_" if profile == "test" else "FR_"
    return StackConfig(
        profile=profile,
        data_dir=data_dir.resolve(),
        web_port=_port(f"{prefix}WEB_PORT", 8000 + offset),
        pg_port=_port(f"{prefix}PG_PORT", 5433 + offset),
        redis_port=_port(f"{prefix}REDIS_PORT", 6380 + offset),
        triton_http_port=_port(f"{prefix}TRITON_HTTP_PORT", 8010 + offset),
        triton_grpc_port=_port(f"{prefix}TRITON_GRPC_PORT", 8011 + offset),
        triton_metrics_port=_port(f"{prefix}TRITON_METRICS_PORT", 8012 + offset),
        external_database_url=os.environ.get("DATABASE_URL") or None,
        external_redis_url=os.environ.get("REDIS_URL") or None,
        external_triton_url=os.environ.get("TRITON_URL") or None,
    )


def python_for(kind: str) -> str:
    path = BACKEND_PYTHON if kind == "backend" else INFERENCE_PYTHON
    if not path.exists():
        raise StackError(f"the {kind} virtualenv is missing ({path}); run `make setup`")
    return str(path) if kind == "inference" else sys.executable
