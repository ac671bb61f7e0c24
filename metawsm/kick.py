"""Start `metawsm reconcile --run R` in the background so a run moves on without a daemon (checks start after a
completion). Used by `metawsm signal` (both its fast and its full path) and the MCP tools, inside an agent's
session. Imports only `os` and `sys`: the signal fast path must stay near the interpreter's start-up cost."""

from __future__ import annotations

import os
import sys


def kick_reconcile(run_id: str, home: str | None = None) -> None:
    """Only inside that run's session (METAWSM_RUN is the run); `home` defaults to METAWSM_HOME. A failure to
    start is ignored: the signal is recorded, and the next reconcile (any command, the daemon) moves the run on."""
    home = home or os.environ.get("METAWSM_HOME")
    if not home or os.environ.get("METAWSM_RUN") != run_id:
        return
    null = os.devnull
    try:
        os.posix_spawn(sys.executable, [sys.executable, "-m", "metawsm", "-C", home, "reconcile", "--run", run_id,
                                        "--quiet"], os.environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0), (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)])
    except OSError:
        return
