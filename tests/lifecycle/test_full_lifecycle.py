"""Issue 6's whole lifecycle on one repository: apply → healthy → pane killed → dead → restart →
completion → gate passes → close merges and cleans up."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.conftest import git
from tests.engine.conftest import engine, project, wait_for, write_plan  # noqa: F401 - fixture

AGENT = ("tickets: [DEMO-1]\nagents:\n  - name: w\n    profile: shell\n"
         "    run: if [ \"$METAWSM_ATTEMPT\" = 1 ]; then sleep 300; fi;"
         " printf ok > done.txt && git add done.txt && git commit -qm done && metawsm signal completion\n"
         "checks: ['test -s done.txt']\n")


def agent_of(root: Path, cli) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli("status", "--json", cwd=root)
    assert result.code == 0, result.err
    (run,) = json.loads(result.out)["runs"]
    (agent,) = run["agents"]
    return agent


def test_full_lifecycle(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "  step_retries: 0\n")  # the person restarts, not the engine
    write_plan(project, "life", AGENT)
    assert cli("apply", "plans/life.yaml", cwd=project).code == 0
    agent = agent_of(project, cli)
    assert (agent["status"], agent["health"], agent["attempt"]) == ("running", "healthy", 1)

    os.kill(agent["pane_pid"], signal.SIGKILL)  # the agent's process, started by this test's apply
    wait_for(lambda: agent_of(project, cli)["health"] == "dead", 10, "the agent to be seen dead")

    assert cli("restart", "--agent", "DEMO-1/w", cwd=project).code == 0
    assert cli("apply", "plans/life.yaml", "--wait", "--timeout", "60", cwd=project).code == 0
    agent = agent_of(project, cli)
    assert agent["attempt"] == 2 and agent["status"] == "stopped"  # completed attempt 2

    assert cli("gate", "--ticket", "DEMO-1", cwd=project).code == 0
    assert cli("close", "--ticket", "DEMO-1", cwd=project).code == 0
    assert (project / "done.txt").read_text() == "ok"
    assert "metawsm/DEMO-1" not in git(project, "branch", "--list")
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert run.status == "closed"
