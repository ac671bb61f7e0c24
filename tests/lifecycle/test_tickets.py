"""Tickets as the unit of work (issue 13): one failed ticket never blocks its siblings, closed tickets are
remembered (`plan` converges), a fixed ticket re-runs only what failed, and a conflict on close stays on its
ticket. Real git, real tmux on a private socket, real agents (shell)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.engine.conftest import commit_all, engine, project  # noqa: F401 - fixture
from tests.lifecycle._tickets import status_json, ticket_states, tickets_plan

WT = Path(".metawsm/workspaces")
FOUR = ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]


def _steps(root: Path) -> dict[str, tuple[str, int]]:
    eng = engine(root)
    try:
        (run,) = eng.store.list_runs()
        return {s.step_id: (s.status, s.attempts) for s in eng.store.list_steps(run.run_id)}
    finally:
        eng.close()


@pytest.mark.slow
def test_four_tickets_one_failing_the_others_close_then_it_is_fixed(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    tickets_plan(project, "four", FOUR, broken=("DEMO-4",))
    cli("apply", "plans/four.yaml", "--wait", "--timeout", "120", cwd=project)
    assert ticket_states(project) == {"DEMO-1": "ready", "DEMO-2": "ready", "DEMO-3": "ready", "DEMO-4": "failed"}
    (snap,) = status_json(cli, project)["runs"]  # a failed run is still the plan's active run
    assert snap["status"] == "failed"
    views = {t["ticket"]: t for t in snap["ticket_states"]}
    assert views["DEMO-4"]["status"] == "failed" and "check:DEMO-4" in views["DEMO-4"]["reason"]
    assert views["DEMO-1"]["next"] == "metawsm close --ticket DEMO-1"

    # the three green tickets close one by one while DEMO-4 is failed
    for ticket in FOUR[:3]:
        result = cli("close", "--ticket", ticket, cwd=project)
        assert result.code == 0, result.err
        assert ticket_states(project)[ticket] == "merged"
        assert cli("status", cwd=project).code == 0
    assert (project / "DEMO-3.txt").exists() and not (project / "broken").exists()
    # a bare close now reports the one ticket it leaves, with the command that moves it on
    result = cli("close", cwd=project)
    assert result.code == 0, result.err
    assert "DEMO-4 (failed)" in result.out and "metawsm apply four" in result.out
    # plan: merged tickets are converged, DEMO-4 is not
    plan = json.loads(cli("plan", "plans/four.yaml", "--json", cwd=project).out)["plans"][0]
    assert plan["summary"]["add"] == 0

    before = _steps(project)
    wt = project / WT / "DEMO-4"
    git(wt, "rm", "-q", "broken")
    commit_all(wt, "fix: no broken file")
    result = cli("apply", "plans/four.yaml", "--wait", "--timeout", "120", cwd=project)
    assert result.code == 0, result.out + result.err
    after = _steps(project)
    changed = sorted(sid for sid in after if after[sid] != before[sid])
    assert changed == ["check:DEMO-4", "gate:DEMO-4"]  # only the failed ticket's checks ran again
    assert after["agent:DEMO-4:w"] == before["agent:DEMO-4:w"]  # its agent was not started again
    eng = engine(project)
    (run,) = eng.store.list_runs()  # the SAME run continued
    assert [a.attempt for a in eng.store.list_agents(run.run_id)] == [1, 1, 1, 1]
    eng.close()

    assert cli("close", "--ticket", "DEMO-4", cwd=project).code == 0
    assert set(ticket_states(project).values()) == {"merged"}
    assert engine(project).store.list_runs()[0].status == "closed"
    result = cli("plan", "plans/four.yaml", "--detailed-exitcode", cwd=project)
    assert result.code == 0, result.out
    assert "merged" in result.out and "0 to add, 0 to change, 0 to remove" in result.out
    data = json.loads(cli("plan", "plans/four.yaml", "--json", cwd=project).out)
    assert data["changed"] is False
    applied = cli("apply", "plans/four.yaml", "--json", cwd=project)  # converged: apply starts nothing
    assert applied.code == 0 and json.loads(applied.out)["runs"][0]["status"] == "converged"
    assert "converged" in cli("apply", "plans/four.yaml", "--wait", cwd=project).out
    assert len(engine(project).store.list_runs()) == 1
    merges = git(project, "log", "--merges", "--format=%s", "main").splitlines()
    assert sorted(m.split()[1] for m in merges) == [f"metawsm/{t}" for t in FOUR]
    assert git(project, "status", "--porcelain") == ""


def test_merge_conflict_stays_on_its_ticket(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    (project / "demo").mkdir()
    (project / "demo" / "DEMO-1.txt").write_text("a different greeting\n")
    commit_all(project, "conflicting change on main")
    result = cli("close", cwd=project)
    assert result.code == 1
    assert "DEMO-1" in result.out and "merge conflict in demo/DEMO-1.txt" in result.out
    assert ticket_states(project) == {"DEMO-1": "ready", "DEMO-2": "merged"}
    assert git(project, "status", "--porcelain") == ""
    (snap,) = status_json(cli, project)["runs"]
    assert {t["ticket"]: t["status"] for t in snap["ticket_states"]} == {"DEMO-1": "ready", "DEMO-2": "merged"}
    assert cli("status", cwd=project).code == 0 and cli("watch", "--once", cwd=project).code == 0

    # the hint: merge the base into the ticket branch, apply (re-runs its checks), close again
    wt = project / WT / "DEMO-1"
    git(wt, "merge", "-q", "main", "-X", "ours", "-m", "merge main")
    assert cli("gate", "--ticket", "DEMO-1", cwd=project).code == 3  # validated an older commit
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    assert _steps(project)["check:DEMO-1"][1] == 1 and ticket_states(project)["DEMO-1"] == "ready"
    assert cli("close", "--ticket", "DEMO-1", cwd=project).code == 0
    assert ticket_states(project) == {"DEMO-1": "merged", "DEMO-2": "merged"}
    assert engine(project).store.list_runs()[0].status == "closed"


def test_reopen_brings_a_merged_ticket_back(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    assert cli("close", "--ticket", "DEMO-2", cwd=project).code == 0
    plan = json.loads(cli("plan", "plans/demo.yaml", "--json", cwd=project).out)["plans"][0]
    assert plan["summary"] == {"add": 0, "change": 0, "remove": 0, "unchanged": 10}
    assert cli("reopen", "DEMO-1", cwd=project).out.strip() == "DEMO-1: ready, nothing to reopen"
    result = cli("reopen", "DEMO-2", "--json", cwd=project)
    assert json.loads(result.out) == {"ticket": "DEMO-2", "from": "merged", "status": "open"}
    plan = json.loads(cli("plan", "plans/demo.yaml", "--json", cwd=project).out)["plans"][0]
    assert plan["summary"]["add"] == 5  # its steps are to do again
    assert cli("plan", "plans/demo.yaml", "--detailed-exitcode", cwd=project).code == 2
    assert cli("reopen", "NOPE-1", cwd=project).code == 1
