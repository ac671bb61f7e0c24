"""metawsm status through the CLI: healthy agents, a killed one turning dead, questions with the answer
command, escalations, gates, selection, and the promise that reading status changes nothing but health."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import git
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_of, agents_plan, set_health, start, status


def _state(root: Path) -> dict[str, object]:
    """Everything status must not change: runs, steps, agents minus health columns, the audit trail minus
    health moves, the forum log, branches and worktrees."""
    eng = engine(root)
    runs = eng.store.list_runs()
    health_cols = {"health", "status", "last_activity_at", "last_progress_at", "last_pane_hash", "exit_status",
                   "updated_at"}
    try:
        return {
            "runs": [r.to_json(with_graph=True) for r in runs],
            "steps": [s.to_json() for r in runs for s in eng.store.list_steps(r.run_id)],
            "agents": [{k: v for k, v in a.to_json().items() if k not in health_cols}
                       for a in eng.store.list_agents()],
            "audit": [t.to_json() for t in eng.store.audit(limit=None)
                      if not (t.entity == "agent" and t.reason.startswith("health:"))],
            "forum": (root / ".metawsm/state/forum/events.jsonl").read_bytes()
            if (root / ".metawsm/state/forum/events.jsonl").exists() else b"",
            "git": git(root, "for-each-ref") + git(root, "worktree", "list", "--porcelain"),
        }
    finally:
        eng.close()


def test_status_shows_healthy_agents_then_a_killed_one_dead(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "s", {"one": "sleep 300", "two": "sleep 300"}))
    data = status(cli, project)
    (snap,) = data["runs"]
    assert snap["run_id"] == run_id and snap["status"] == "running" and snap["active"] is True
    agents = agents_of(data)
    assert {k: (a["status"], a["health"], a["attempt"]) for k, a in agents.items()} == {
        "DEMO-1/one": ("running", "healthy", 1), "DEMO-1/two": ("running", "healthy", 1)}
    assert agents["DEMO-1/one"]["attach"] == f"tmux -L {tmux_socket} attach-session -t =s-DEMO-1-one"
    assert snap["unhealthy_agents"] == [] and snap["gates"][0]["state"] == "not evaluated"
    assert {s["step_id"]: s["status"] for s in snap["steps"]}["agent:DEMO-1:one"] == "running"

    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=s-DEMO-1-two"], check=True)
    data = status(cli, project, "--run", run_id)
    two = agents_of(data)["DEMO-1/two"]
    assert (two["status"], two["health"], two["unhealthy"]) == ("dead", "dead", True)
    assert data["runs"][0]["unhealthy_agents"] == ["DEMO-1/two"]
    assert agents_of(data)["DEMO-1/one"]["health"] == "healthy"

    human = cli("status", cwd=project)
    assert human.code == 0 and run_id in human.out and "dead" in human.out and "healthy" in human.out


def test_reading_status_changes_nothing_but_health(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket, idle=1, activity=2, progress=3)
    start(cli, project, agents_plan(project, "s", {"one": "sleep 300"}))
    subprocess.run(["sleep", "2.5"])
    before = _state(project)
    for args in ((), ("--all",), ("--ticket", "DEMO-1")):
        status(cli, project, *args)
    assert _state(project) == before
    eng = engine(project)
    (agent,) = eng.store.list_agents()
    assert agent.health == "stalled"  # health was written (and only health)


def test_question_is_listed_with_the_command_that_answers_it(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "q", {"asker": "metawsm ask 'Which DB?' --timeout 120"}))
    eng = engine(project)
    wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question, what="the question")
    (q,) = status(cli, project)["runs"][0]["questions"]
    assert q["question"] == "Which DB?" and q["agent"] == "asker"
    assert q["answer_with"] == f"metawsm forum answer {q['thread_id']} --body '...'"
    human = cli("status", cwd=project).out
    assert "asks: Which DB?" in human and "metawsm forum answer" in human


def test_escalations_are_listed(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "e", {"one": "sleep 300"}))
    opened = cli("forum", "ask", "--ticket", "DEMO-1", "--title", "Prod access?", "--body", "need it",
                 "--priority", "urgent", "--run", run_id, "--json", cwd=project)
    assert opened.code == 0, opened.err
    (esc,) = status(cli, project)["runs"][0]["escalations"]
    assert (esc["title"], esc["reason"], esc["priority"]) == ("Prod access?", "priority", "urgent")


def test_finished_runs_only_with_all_and_gate_state(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    (snap,) = status(cli, project)["runs"]  # complete is still active (it can be closed)
    assert snap["status"] == "complete"
    assert {g["ticket"]: g["state"] for g in snap["gates"]} == {"DEMO-1": "passed", "DEMO-2": "passed"}
    assert {a["status"] for a in snap["agents"]} == {"stopped"} and snap["questions"] == []
    eng = engine(project)
    eng.store.transition_run(snap["run_id"], "closing")
    eng.store.transition_run(snap["run_id"], "closed")
    assert status(cli, project)["runs"] == []
    assert "no active runs" in cli("status", cwd=project).out
    assert [r["status"] for r in status(cli, project, "--all")["runs"]] == ["closed"]
    assert [r["status"] for r in status(cli, project, "--run", snap["run_id"])["runs"]] == ["closed"]


def test_unknown_run_or_ticket_exits_1(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert status(cli, project) == {"runs": []}
    assert not (project / ".metawsm/state/state.db").exists()  # reading created nothing
    for args in (("--run", "nope"), ("--ticket", "NOPE-1")):
        result = cli("status", *args, "--json", cwd=project)
        assert result.code == 1
        assert "not found" in json.loads(result.out)["error"]["message"] or "no run" in result.out
