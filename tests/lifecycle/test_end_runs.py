"""Every run can be ended (cleanup in any state, forget), stop and resume act on one ticket or one agent, resume
without a selector acts only on the plan's one active run, and state.db migrates to one active run per plan."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from metawsm.engine.locking import operation
from metawsm.state import StateStore
from metawsm.state.db import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import git
from tests.engine.conftest import engine, project, wait_for, write_plan  # noqa: F401 - fixture
from tests.lifecycle._tickets import ticket_states
from tests.lifecycle.test_close import done  # noqa: F401 - fixture
from tests.lifecycle.test_ops import SLEEPER, live_sessions

WT = Path(".metawsm/workspaces")


def _run(root: Path):  # type: ignore[no-untyped-def]
    eng = engine(root)
    try:
        return eng.store.list_runs()[0]
    finally:
        eng.close()


def _force_status(root: Path, run_id: str, status: str) -> None:
    with sqlite3.connect(root / ".metawsm/state/state.db") as db:
        db.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))


def test_cleanup_refuses_listing_the_commits_then_force_ends_the_run(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run = _run(done)
    assert run.status == "complete"
    result = cli("cleanup", cwd=done)
    assert result.code == 1
    assert "1 commit(s) on metawsm/DEMO-1 not merged into main: " in result.err
    assert "DEMO-1: Write the greeting file" in result.err  # the commit itself, by subject
    assert _run(done).status == "complete"  # refused: nothing changed
    result = cli("cleanup", "--force", cwd=done)
    assert result.code == 0, result.err
    assert "run ended" in result.out and _run(done).status == "ended"
    assert not (done / WT / "DEMO-1").exists() and "metawsm/DEMO" not in git(done, "branch", "--list")
    assert ticket_states(done) == {"DEMO-1": "open", "DEMO-2": "open"}
    assert cli("status", cwd=done).out.startswith("no active runs")
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=done).code == 0  # a new run
    assert len(engine(done).store.list_runs()) == 2


def test_cleanup_ends_a_stuck_run_in_any_state(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("close", cwd=done).code == 0
    run = _run(done)
    assert run.status == "closed"
    eng = engine(done)
    for stuck in ("closing", "complete", "failed", "running"):  # as earlier versions could leave a run
        # Hold the run's lease (cleanup, in this thread, enters it again): a reconcile kicked in the background
        # by the fixture's agents and checks would otherwise see the forced `running` and close the run first.
        with operation(eng, run.run_id, "test: a stuck run"):
            _force_status(done, run.run_id, stuck)
            result = cli("cleanup", "--run", run.run_id, cwd=done)  # nothing at risk: every ticket merged
        assert result.code == 0, (stuck, result.err)
        assert _run(done).status == "ended", stuck
        _force_status(done, run.run_id, "closed")
    eng.close()
    assert ticket_states(done) == {"DEMO-1": "merged", "DEMO-2": "merged"}  # merged stays remembered


def test_forget_drops_the_records_and_touches_nothing_else(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run = _run(done)
    refs = git(done, "for-each-ref") + git(done, "worktree", "list", "--porcelain")
    result = cli("forget", run.run_id, cwd=done)
    assert result.code == 0 and "git and tmux untouched" in result.out
    assert git(done, "for-each-ref") + git(done, "worktree", "list", "--porcelain") == refs
    eng = engine(done)
    assert eng.store.list_runs() == [] and eng.store.list_steps(run.run_id) == []
    assert eng.store.audit(run.run_id) == []
    eng.close()
    assert ticket_states(done) == {"DEMO-1": "open", "DEMO-2": "open"}
    assert cli("forget", run.run_id, cwd=done).code == 1  # no such run any more
    again = cli("apply", "plans/demo.yaml", cwd=done)  # a new run, which adopts the worktrees left in place
    assert "self: adopted" in again.out and _run(done).run_id != run.run_id


def test_stop_and_resume_one_ticket_and_one_agent(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    assert live_sessions(tmux_socket) == ["sleepy-DEMO-1-w", "sleepy-DEMO-2-w"]
    result = cli("stop", "--ticket", "DEMO-1", cwd=project)
    assert result.code == 0, result.err
    assert live_sessions(tmux_socket) == ["sleepy-DEMO-2-w"]  # DEMO-2 goes on
    assert _run(project).status == "running"
    states = ticket_states(project)
    assert states == {"DEMO-1": "failed", "DEMO-2": "working"}
    assert cli("stop", "--ticket", "DEMO-1", cwd=project).code == 0  # again: nothing running, no-op
    assert cli("resume", "--ticket", "DEMO-1", cwd=project).code == 0
    wait_for(lambda: live_sessions(tmux_socket) == ["sleepy-DEMO-1-w", "sleepy-DEMO-2-w"], 10, "DEMO-1 back")
    assert ticket_states(project)["DEMO-1"] == "working"
    eng = engine(project)
    attempts = {a.ticket: a.attempt for a in eng.store.list_agents(_run(project).run_id)}
    assert attempts == {"DEMO-1": 2, "DEMO-2": 1}
    eng.close()
    assert cli("stop", "--agent", "DEMO-2/w", cwd=project).code == 0
    assert live_sessions(tmux_socket) == ["sleepy-DEMO-1-w"]
    assert cli("stop", "--agent", "w", cwd=project).code == 2  # ambiguous: two tickets have an agent w
    assert cli("stop", "--agent", "DEMO-9/w", cwd=project).code == 1
    assert cli("stop", cwd=project).code == 0
    assert live_sessions(tmux_socket) == [] and _run(project).status == "stopped"


def test_resume_without_selector_acts_only_on_the_active_run(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    old = _run(project)
    assert cli("stop", cwd=project).code == 0
    assert cli("cleanup", "--keep-workspaces", cwd=project).code == 0
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    new = _run(project)
    assert new.run_id != old.run_id
    assert cli("stop", cwd=project).code == 0
    result = cli("resume", "--json", cwd=project)
    assert result.code == 0 and old.run_id not in result.out and new.run_id in result.out
    eng = engine(project)
    assert eng.store.get_run(old.run_id).status == "ended" and eng.store.get_run(new.run_id).status == "running"
    assert len([r for r in eng.store.list_runs() if r.status != "ended"]) == 1
    eng.close()
    subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], capture_output=True)


def test_migration_ends_older_duplicate_active_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0] + MIGRATIONS[1]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    rows = [("old", "failed", 1.0), ("mid", "complete", 2.0), ("new", "running", 3.0), ("done", "closed", 0.5)]
    for rid, status, at in rows:
        db.execute("INSERT INTO runs (run_id, plan_name, plan_hash, status, created_at, updated_at, graph_json)"
                   " VALUES (?, 'p', 'h', ?, ?, ?, '{}')", (rid, status, at, at))
    db.execute("INSERT INTO closed_tickets VALUES ('done', 'T-1', 'merge', 'main', 'abc', 0.5)")
    db.close()
    store = StateStore(path)
    assert store.schema_version() == SCHEMA_VERSION >= 3
    assert {r.run_id: r.status for r in store.list_runs()} == {"old": "ended", "mid": "ended", "new": "running",
                                                                "done": "closed"}
    assert [t.reason for t in store.audit("old")] == ["a newer run of the plan is active"]
    assert store.require_ticket("T-1").status == "merged"
    store.close()


def test_abandon_stops_the_ticket_and_remembers_it(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    result = cli("abandon", "DEMO-1", cwd=project)
    assert result.code == 0, result.err
    assert "DEMO-1: abandoned" in result.out and live_sessions(tmux_socket) == ["sleepy-DEMO-2-w"]
    assert ticket_states(project) == {"DEMO-1": "abandoned", "DEMO-2": "working"}
    plan = json.loads(cli("plan", "plans/sleepy.yaml", "--json", cwd=project).out)["plans"][0]
    settled = {c["id"]: c.get("settled") for c in plan["changes"]}
    assert plan["summary"]["add"] == 0 and settled == {}  # unchanged: listed among the "=" steps
    human = " ".join(cli("plan", "plans/sleepy.yaml", cwd=project).out.split())
    assert "abandoned" in human and "1 ticket(s) merged or abandoned: DEMO-1" in human
    assert "already abandoned" in cli("abandon", "DEMO-1", cwd=project).out
    assert cli("abandon", "NOPE-1", cwd=project).code == 1
    assert cli("stop", "--ticket", "DEMO-2", cwd=project).code == 0
    assert cli("abandon", "DEMO-2", cwd=project).code == 0  # every ticket abandoned: the run is over
    assert _run(project).status == "closed"
    assert cli("reopen", "DEMO-1", cwd=project).code == 0 and ticket_states(project)["DEMO-1"] == "open"


def test_a_run_recorded_before_ticket_states_still_closes(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with sqlite3.connect(done / ".metawsm/state/state.db") as db:  # as a state.db migrated from version 2
        db.execute("DELETE FROM tickets")
    (snap,) = json.loads(cli("status", "--json", cwd=done).out)["runs"]
    assert {t["ticket"]: t["status"] for t in snap["ticket_states"]} == {"DEMO-1": "ready", "DEMO-2": "ready"}
    assert ticket_states(done) == {}  # status wrote nothing
    result = cli("close", cwd=done)
    assert result.code == 0, result.err
    assert ticket_states(done) == {"DEMO-1": "merged", "DEMO-2": "merged"}
