"""Start `metawsm reconcile --run R` in the background so a run moves on without a daemon (checks start after a
completion). Used by `metawsm signal` (full path) and the MCP tools, inside an agent's session; a core module,
so the agents' MCP tools need not import the CLI. (The signal fast path, `cli/signal_fast.py`, has its own
`posix_spawn` variant: it may not import `subprocess`.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys


def kick_reconcile(run_id: str) -> None:
    """Only inside that run's session (METAWSM_HOME set, METAWSM_RUN is the run). A failure to start is ignored:
    the signal is recorded, and the next reconcile (any command, the daemon) moves the run on."""
    home = os.environ.get("METAWSM_HOME")
    if (not home or os.environ.get("METAWSM_RUN") != run_id or os.environ.get("METAWSM_SERVER")
            or os.environ.get("METAWSM_KICK") == "0"):
        return  # through a daemon (METAWSM_SERVER), the daemon reconciles on the signal itself; METAWSM_KICK=0: a
        # container's agent leaves the run to the reconcile outside (runtime/docker_run.py)
    with contextlib.suppress(OSError):
        subprocess.Popen([sys.executable, "-m", "metawsm", "-C", home, "reconcile", "--run", run_id, "--quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
