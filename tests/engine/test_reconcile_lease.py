"""`metawsm reconcile` waits for a run's lease held by another process instead of dropping its pass."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.engine.conftest import engine, write_plan


def test_reconcile_waits_for_the_lease(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "one", "tickets: [DEMO-1]\nagents:\n  - {name: w, profile: shell, run: 'sleep 30'}\n")
    assert cli("apply", "plans/one.yaml", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    lease = eng.store.acquire_lease(run.run_id, ttl=30)
    assert lease is not None
    threading.Timer(0.8, lambda: eng.store.release_lease(lease)).start()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "metawsm", "-C", str(project), "reconcile", "--run", run.run_id,
                           "--json", "--lease-wait", "10"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)["runs"]
    assert result["busy"] is False and time.monotonic() - t0 >= 0.5
    busy = subprocess.run([sys.executable, "-m", "metawsm", "-C", str(project), "reconcile", "--run", run.run_id,
                           "--json", "--lease-wait", "0"], capture_output=True, text=True, timeout=60)
    assert json.loads(busy.stdout)["runs"][0]["busy"] is False  # nobody holds it now
