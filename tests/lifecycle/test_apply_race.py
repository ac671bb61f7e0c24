"""Two `metawsm apply` of a new plan at the same instant create ONE run (the unique index, and apply retrying
on the run the other created)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture
from tests.lifecycle.test_ops import SLEEPER, live_sessions


@pytest.mark.reliability
def test_two_applies_at_once_make_one_run(project: Path, tmux_socket: str) -> None:  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    argv = [sys.executable, "-m", "metawsm", "-C", str(project), "apply", "plans/sleepy.yaml"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    eng = engine(project)
    runs = eng.store.list_runs()
    assert len(runs) == 1, [r.run_id for r in runs]
    assert sorted(a.attempt for a in eng.store.list_agents(runs[0].run_id)) == [1, 1]
    eng.close()
    assert live_sessions(tmux_socket) == ["sleepy-DEMO-1-w", "sleepy-DEMO-2-w"]
