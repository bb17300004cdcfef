"""Dev launcher: run the tritonserver binary bundled in the nvidia-pytriton wheel on our model repository.

Run with the *inference* virtualenv's python (it owns numpy<2, ONNX Runtime and dlib); the process is
replaced by tritonserver (exec), so signals sent to this pid reach Triton directly.

Two traps, both documented in ../shared/ENVIRONMENT.md and handled here:
1. The python-backend stub links libpython3.11 and would pick Debian's older copy from /lib before
   pyenv's: we put this interpreter's LIBDIR first on LD_LIBRARY_PATH.
2. The stub must see this virtualenv's packages (numpy<2): its bin/ goes first on PATH.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_REPOSITORY = HERE / "model_repository"


def pytriton_server_dir() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("triton: the nvidia-pytriton package is missing from this environment; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "tritonserver"


def prepare_backends(server_dir: Path) -> Path:
    """Assemble a backend directory: the wheel's python backend plus the stub for this Python version.

    The wheel ships the stubs for several Pythons beside the backend, not inside it; we copy into a
    folder of the virtualenv rather than mutating site-packages.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        sys.exit(f"triton: no python backend stub for Python {version} in {stub.parent.parent}")
    target = Path(sys.prefix) / "triton-backends"
    python_backend = target / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    for source in [*(server_dir / "backends" / "python").glob("*.*"), stub]:
        dest = python_backend / source.name
        if source.is_file() and (not dest.exists() or dest.stat().st_mtime < source.stat().st_mtime):
            shutil.copy2(source, dest)
    (python_backend / "triton_python_backend_stub").chmod(0o755)
    return target


def server_environment(server_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    # The copied stub loses its $ORIGIN-relative rpath to the wheel's vendored libraries.
    vendored = server_dir.parent.parent / "nvidia_pytriton.libs"
    paths = [libdir, str(vendored), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in paths if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=DEFAULT_REPOSITORY)
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("FR_TRITON_HTTP_PORT", 8010)))
    parser.add_argument("--grpc-port", type=int, default=int(os.environ.get("FR_TRITON_GRPC_PORT", 8011)))
    parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("FR_TRITON_METRICS_PORT", 8012)))
    parser.add_argument("--log-verbose", type=int, default=0)
    args = parser.parse_args(argv)

    server_dir = pytriton_server_dir()
    backends = prepare_backends(server_dir)
    repository = args.model_repository.resolve()
    if not any(repository.glob("*/config.pbtxt")):
        sys.exit(f"triton: no models in {repository}; run `make setup` (it builds the model files)")
    command = [
        str(server_dir / "bin" / "tritonserver"),
        f"--model-repository={repository}",
        f"--backend-directory={backends}",
        # Explicit control: every model is loaded once at start-up; a model that fails to load
        # fails the start instead of leaving a half-serving server.
        "--model-control-mode=explicit",
        "--load-model=*",
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        f"--http-port={args.http_port}",
        f"--grpc-port={args.grpc_port}",
        f"--metrics-port={args.metrics_port}",
        "--allow-gpu-metrics=false",
        "--allow-cpu-metrics=true",
        f"--log-verbose={args.log_verbose}",
    ]
    os.execve(command[0], command, server_environment(server_dir))


if __name__ == "__main__":
    main()
