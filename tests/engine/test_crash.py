"""Crash safety: a killed `apply --wait` is re-run and adopts everything; stale attempts never complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from metawsm.engine.reconcile import reconcile
from tests.conftest import git
from tests.engine.conftest import engine, wait_for, write_plan

SLOW = ("tickets: [DEMO-1, DEMO-2]\nagents:\n  - name: w\n    profile: shell\n"
        "    run: sleep 3 && printf x > f.txt && git add f.txt && git commit -qm {{ ticket.id | shquote }}"
        " && metawsm signal completion --summary ok\n"
        "checks: ['test -f f.txt']\n")


def _agent_steps_running(root: Path) -> bool:
    if not (root / ".metawsm/state/state.db").exists():
        return False
    eng = engine(root)
    runs = eng.store.list_runs()
    return bool(runs) and sum(1 for s in eng.store.list_steps(runs[0].run_id)
                              if s.kind == "agent" and s.status == "running") == 2


@pytest.mark.slow
def test_killed_apply_is_adopted_on_rerun(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "slow", SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(project), "apply", "plans/slow.yaml", "--wait"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        wait_for(lambda: _agent_steps_running(project), 30, "agents to start")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    result = cli("apply", "plans/slow.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    eng = engine(project)
    (run,) = eng.store.list_runs()  # the same run, not a second one
    assert run.status == "complete"
    assert [a.attempt for a in eng.store.list_agents(run.run_id)] == [1, 1]  # adopted, not restarted
    worktrees = [line for line in git(project, "worktree", "list", "--porcelain").splitlines()
                 if line.startswith("worktree ")]
    assert len(worktrees) == 3  # main + one per ticket
    sessions = subprocess.run(["tmux", "-L", tmux_socket, "ls", "-F", "#{session_name}"],
                              capture_output=True, text=True).stdout.split()
    assert sorted(sessions) == ["slow-DEMO-1-w", "slow-DEMO-2-w"]
    for ticket in ("DEMO-1", "DEMO-2"):  # one commit each: nothing ran twice
        assert git(project, "rev-list", "--count", f"main..metawsm/{ticket}").strip() == "1"


def test_completion_of_an_older_attempt_never_completes_a_newer_one(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "flaky", "tickets: [DEMO-1]\nagents:\n  - name: w\n    profile: shell\n"
                                 "    run: 'if [ \"$METAWSM_ATTEMPT\" = 1 ]; then exit 1; fi; sleep 60'\n")
    assert cli("apply", "plans/flaky.yaml", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()

    def on_attempt_two() -> bool:
        reconcile(eng, run.run_id)
        agent = eng.store.get_agent(run.run_id, "DEMO-1", "w")
        return agent.attempt == 2 and eng.store.get_step(run.run_id, "agent:DEMO-1:w").status == "running"

    wait_for(on_attempt_two, 30, "the retry (attempt 2)")
    ctx = ["--run", run.run_id, "--ticket", "DEMO-1", "--agent", "w"]
    assert cli("signal", "completion", "--summary", "late", *ctx, "--attempt", "1", cwd=project).code == 0
    reconcile(eng, run.run_id)
    assert eng.store.get_step(run.run_id, "agent:DEMO-1:w").status == "running"
    assert cli("signal", "completion", "--summary", "now", *ctx, "--attempt", "2", cwd=project).code == 0
    reconcile(eng, run.run_id)
    step = eng.store.get_step(run.run_id, "agent:DEMO-1:w")
    assert step.status == "done" and step.attempts == 2
