"""python -m backend.devstack {run | test [pytest args...] | manage <manage.py args...>}

`manage` starts the run profile's infrastructure (PostgreSQL, Valkey, Triton; no web, workers or
ingest), applies migrations, runs one manage.py command against it and stops: the way to run a long
command such as `evaluate` without the live demo competing for the CPU."""

from __future__ import annotations

import sys

from . import stack
from .config import StackError, load_config


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "manage"}:
        print("usage: python -m backend.devstack {run | test [pytest args...] | manage <args...>}", file=sys.stderr)
        return 2
    try:
        config = load_config("test" if argv[0] == "test" else "run")
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if argv[0] == "run":
        return stack.run(config)
    if argv[0] == "manage":
        return stack.manage_once(config, argv[1:])
    return stack.test(config, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
