"""`metawsm apply` end to end: the demo, adoption on re-apply, dry runs, preflight, re-runs, failures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import git
from tests.engine.conftest import commit_all, engine, write_plan


def sessions(socket: str) -> list[str]:
    proc = subprocess.run(["tmux", "-L", socket, "ls", "-F", "#{session_name}"], capture_output=True, text=True)
    return sorted(proc.stdout.split())


def test_demo_runs_to_complete(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    assert "complete" in result.out
    worktrees = git(project, "worktree", "list", "--porcelain")
    for ticket in ("DEMO-1", "DEMO-2"):
        wt = project / ".metawsm" / "workspaces" / ticket
        assert f"worktree {wt}" in worktrees
        assert (wt / "demo" / f"{ticket}.txt").read_text().strip()
        assert git(wt, "status", "--porcelain") == ""
        assert git(project, "log", "-1", "--format=%s", f"metawsm/{ticket}").startswith(f"{ticket}: ")
    assert sessions(tmux_socket) == ["demo-DEMO-1-writer", "demo-DEMO-2-writer"]
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert run.status == "complete"
    assert {s.status for s in eng.store.list_steps(run.run_id)} == {"done"}
    # the check recorded a passed validation for the branch head
    state = eng.forum.control_state(run.run_id, "DEMO-1/checks", 1)
    assert state.validation and state.validation["status"] == "passed"
    assert state.validation["sha"] == git(project / ".metawsm/workspaces/DEMO-1", "rev-parse", "HEAD").strip()
    # a second apply adopts everything: no changes, nothing created twice
    again = cli("apply", "plans/demo.yaml", "--json", cwd=project)
    data = json.loads(again.out)["runs"][0]
    assert again.code == 0 and data["run_id"] == run.run_id and data["changes"] == [] and not data["created"]
    assert sessions(tmux_socket) == ["demo-DEMO-1-writer", "demo-DEMO-2-writer"]
    assert cli("plan", "plans/demo.yaml", "--detailed-exitcode", cwd=project).code == 0


def test_dry_run_changes_nothing(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    before = git(project, "status", "--porcelain")
    result = cli("apply", "plans/demo.yaml", "--dry-run", "--json", cwd=project)
    assert result.code == 0
    data = json.loads(result.out)["runs"][0]
    assert data["dry_run"] and data["run_id"] is None
    assert {c["mark"] for c in data["changes"]} == {"+"}
    assert not (project / ".metawsm" / "state").exists()
    assert not (project / ".metawsm" / "workspaces").exists()
    assert sessions(tmux_socket) == []
    assert git(project, "status", "--porcelain") == before


def test_preflight_refuses_before_any_side_effect(project: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "ai", "tickets: [DEMO-1]\nagents:\n  - {name: impl, profile: codex, prompt: hi}\n")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # git and tmux, no codex
    result = cli("apply", "plans/ai.yaml", cwd=project)
    assert result.code == 1
    assert "needs `codex`, which is not on PATH" in result.err and "nothing was changed" in result.err
    assert not (project / ".metawsm" / "workspaces").exists()


def test_unknown_base_branch_is_a_preflight_error(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text() + "workspace:\n  base_branch: trunk\n")
    commit_all(project)
    result = cli("apply", "plans/demo.yaml", cwd=project)
    assert result.code == 1 and "base branch 'trunk' does not exist" in result.err


def test_failing_step_retries_then_fails_the_run(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "boom", "tickets: [DEMO-1]\nagents:\n  - {name: w, profile: shell, run: 'metawsm signal completion'}\n"
                                "steps:\n  - {id: boom, for_each: none, run: 'echo bad; exit 3', retries: 1}\n")
    result = cli("apply", "plans/boom.yaml", "--wait", "--timeout", "60", cwd=project)
    assert result.code == 1
    eng = engine(project)
    (run,) = eng.store.list_runs()
    step = eng.store.get_step(run.run_id, "boom")
    assert run.status == "failed" and step.status == "failed" and step.attempts == 2
    assert "exited with 3" in (step.last_error or "") and "bad" in (step.last_error or "")


def test_changed_check_reruns_check_and_gate_only(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    plan = project / "plans" / "demo.yaml"
    plan.write_text(plan.read_text().replace("  - test -s demo/{{ ticket.id }}.txt",
                                             "  - test -s demo/{{ ticket.id }}.txt\n  - 'true'"))
    commit_all(project)
    result = cli("apply", "plans/demo.yaml", "--json", cwd=project)
    changes = {c["id"]: c["mark"] for c in json.loads(result.out)["runs"][0]["changes"]}
    assert changes == {"check:DEMO-1": "~", "check:DEMO-2": "~"}
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "60", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    reruns = {t.entity_id for t in eng.store.audit(run.run_id, entity="step", limit=500) if t.to_state == "pending"}
    assert reruns == {"check:DEMO-1", "check:DEMO-2", "gate:DEMO-1", "gate:DEMO-2"}
    assert {a.attempt for a in eng.store.list_agents(run.run_id)} == {1}


def test_max_parallel_limits_running_agents(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write_plan(project, "slow", "tickets: [DEMO-1, DEMO-2, EXAMPLE-1]\n"
                                "agents:\n  - {name: s, profile: shell, run: 'sleep 60'}\n")
    assert cli("apply", "plans/slow.yaml", "--max-parallel", "2", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    running = [s.step_id for s in eng.store.list_steps(run.run_id) if s.status == "running"]
    assert len(running) == 2 and all(s.startswith("agent:") for s in running)
