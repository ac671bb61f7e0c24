"""Helper process for the locking tests: hold a run's lease as a command would, until stdin closes.

python -m tests.engine._holder ROOT RUN_ID COMMAND — prints "held <pid>" once it holds the lease, then keeps it
(renewed by the heartbeat) until its stdin is closed or it is killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from metawsm.config.project import Project
from metawsm.engine.context import Engine
from metawsm.engine.locking import operation


def main() -> None:
    root, run_id, command = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    eng = Engine.open(Project(root))
    with operation(eng, run_id, command, timeout=30):
        sys.stdout.write(f"held {os.getpid()}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the test closes our stdin
    eng.close()


if __name__ == "__main__":
    main()
