"""python -m backend.devstack {run | test [pytest args...]}"""

from __future__ import annotations

import sys

from . import stack
from .config import StackError, load_config


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print("usage: python -m backend.devstack {run | test [pytest args...]}", file=sys.stderr)
        return 2
    try:
        config = load_config(argv[0])
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if argv[0] == "run":
        return stack.run(config)
    return stack.test(config, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
