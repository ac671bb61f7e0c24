"""StateStore behaviour: runs, steps, agents, migrations, JSON, listing speed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from metawsm.errors import NotFoundError, StateError
from metawsm.state import StateStore
from metawsm.state.db import SCHEMA_VERSION


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / ".metawsm" / "state" / "state.db")


def test_open_twice_is_idempotent_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = StateStore(path)
    first.create_run("r1", "p", "h", "{}")
    first.close()
    second = StateStore(path)
    assert second.schema_version() == SCHEMA_VERSION
    assert second.get_run("r1").plan_name == "p"
    mode = second.db.read("PRAGMA journal_mode")[0][0]
    assert mode == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer"):
        StateStore(path)


def test_run_lifecycle_timestamps_and_errors(store: StateStore) -> None:
    run = store.create_run("r1", "demo", "h1", '{"steps": []}')
    assert run.status == "created" and run.started_at is None
    with pytest.raises(StateError, match="already exists"):
        store.create_run("r1", "demo", "h1", "{}")
    store.transition_run("r1", "planning")
    run = store.transition_run("r1", "running", "executing plan")
    assert run.started_at is not None and run.finished_at is None
    run = store.transition_run("r1", "failed", "step x failed", error="boom")
    assert run.finished_at is not None and run.last_error == "boom"
    run = store.transition_run("r1", "running", "retry")
    assert run.finished_at is None and run.last_error is None
    data = run.to_json()
    assert data["status"] == "running" and str(data["created_at"]).endswith("Z")
    assert "graph_json" not in data and run.to_json(with_graph=True)["graph_json"] == '{"steps": []}'
    run = store.update_run_graph("r1", "h2", '{"steps": [1]}')
    assert (run.plan_hash, run.graph_json) == ("h2", '{"steps": [1]}')
    with pytest.raises(NotFoundError):
        store.get_run("nope")
    with pytest.raises(NotFoundError):
        store.transition_run("nope", "planning")


def test_active_run_for_plan(store: StateStore) -> None:
    assert store.active_run_for_plan("demo") is None
    store.create_run("r1", "demo", "h", "{}")
    assert store.active_run_for_plan("demo").run_id == "r1"  # type: ignore[union-attr]
    for to in ("planning", "failed"):  # a failed run is still the plan's run: apply continues it
        store.transition_run("r1", to)
    assert store.active_run_for_plan("demo").run_id == "r1"  # type: ignore[union-attr]
    with pytest.raises(StateError, match="already has an active run: r1"):
        store.create_run("r2", "demo", "h", "{}")
    store.transition_run("r1", "ended", "cleanup")
    assert store.active_run_for_plan("demo") is None
    store.create_run("r2", "demo", "h", "{}")
    store.create_run("r3", "other", "h", "{}")
    assert store.active_run_for_plan("demo").run_id == "r2"  # type: ignore[union-attr]
    for to in ("planning", "running", "complete"):
        store.transition_run("r2", to)
    assert store.active_run_for_plan("demo").run_id == "r2"  # type: ignore[union-attr]


def test_steps_upsert_transition_attempts(store: StateStore) -> None:
    store.create_run("r1", "demo", "h", "{}")
    step = store.upsert_step("r1", "agent:T1:a", "agent", "T1", "a", "d1", '{"x": 1}')
    assert (step.status, step.attempts, step.ticket, step.agent) == ("pending", 0, "T1", "a")
    store.transition_step("r1", "agent:T1:a", "running")
    step = store.transition_step("r1", "agent:T1:a", "failed", "pane exited", error="exit 3",
                                 output_log="logs/a.log", next_attempt_at=123.0)
    assert (step.attempts, step.last_error, step.output_log, step.next_attempt_at) == (
        1, "exit 3", "logs/a.log", 123.0)
    assert step.finished_at is not None
    step = store.transition_step("r1", "agent:T1:a", "running", "retry")
    assert (step.attempts, step.next_attempt_at, step.finished_at) == (2, None, None)
    step = store.transition_step("r1", "agent:T1:a", "done")
    assert step.last_error is None and step.output_log == "logs/a.log"
    # upsert of an existing step updates its definition and keeps its status
    step = store.upsert_step("r1", "agent:T1:a", "agent", "T1", "a", "d2", '{"x": 2}')
    assert (step.status, step.definition_hash, step.fields_json) == ("done", "d2", '{"x": 2}')
    step = store.transition_step("r1", "agent:T1:a", "pending", "definition changed")
    assert (step.status, step.attempts) == ("pending", 0)
    step = store.set_step_definition("r1", "agent:T1:a", "d3")
    assert (step.definition_hash, step.fields_json, step.status) == ("d3", '{"x": 2}', "pending")
    store.upsert_step("r1", "check:T1", "check", "T1", None, "c1")
    assert [s.step_id for s in store.list_steps("r1")] == ["agent:T1:a", "check:T1"]
    assert [s.step_id for s in store.list_steps("r1", statuses=["pending"])] == ["agent:T1:a", "check:T1"]
    assert store.list_steps("r1", statuses=[]) == []
    with pytest.raises(NotFoundError):
        store.upsert_step("nope", "s", "shell", None, None, "d")
    assert store.get_step("r1", "check:T1").to_json()["created_at"]


def test_agents_upsert_update_attempts(store: StateStore) -> None:
    store.create_run("r1", "demo", "h", "{}")
    agent = store.upsert_agent("r1", "T1", "a", "shell", "mw-T1-a")
    assert (agent.status, agent.attempt, agent.stopped_by_user) == ("pending", 0, False)
    assert store.new_attempt("r1", "T1", "a") == 1
    store.transition_agent("r1", "T1", "a", "running", "started")
    agent = store.update_agent("r1", "T1", "a", pane_pid=42, health="healthy", last_activity_at=10.0,
                               stopped_by_user=True, exit_status=0)
    assert (agent.pane_pid, agent.health, agent.last_activity_at, agent.stopped_by_user) == (
        42, "healthy", 10.0, True)
    with pytest.raises(StateError, match="cannot set status"):
        store.update_agent("r1", "T1", "a", status="dead")
    with pytest.raises(StateError, match="cannot set"):
        store.update_agent("r1", "T1", "a", **{"health = 'x' --": 1})
    store.transition_agent("r1", "T1", "a", "dead", "session missing")
    assert store.new_attempt("r1", "T1", "a") == 2
    agent = store.transition_agent("r1", "T1", "a", "running", "restart")
    assert (agent.attempt, agent.exit_status, agent.pane_pid, agent.stopped_by_user) == (2, None, None, False)
    agent = store.upsert_agent("r1", "T1", "a", "codex", "mw-T1-a2")
    assert (agent.status, agent.attempt, agent.profile, agent.session) == ("running", 2, "codex", "mw-T1-a2")
    store.upsert_agent("r1", "T2", "b", "shell", "mw-T2-b")
    assert [a.entity_id for a in store.list_agents("r1")] == ["T1:a", "T2:b"]
    assert [a.entity_id for a in store.list_agents(statuses=["pending"])] == ["T2:b"]
    assert store.get_agent("r1", "T1", "a").to_json()["stopped_by_user"] is False
    with pytest.raises(NotFoundError):
        store.get_agent("r1", "T9", "a")


def test_audit_filters_and_order(store: StateStore) -> None:
    store.create_run("r1", "demo", "h", "{}")
    store.create_run("r2", "demo2", "h", "{}")
    store.transition_run("r1", "planning", "one")
    store.transition_run("r2", "planning", "two")
    store.upsert_step("r1", "s", "shell", None, None, "d")
    store.transition_step("r1", "s", "running", "three")
    assert [t.reason for t in store.audit()] == ["three", "two", "one"]
    assert [t.reason for t in store.audit("r1")] == ["three", "one"]
    assert [t.reason for t in store.audit("r1", entity="run")] == ["one"]
    assert len(store.audit(limit=1)) == 1
    assert store.audit("r1")[0].to_json()["at"]


def test_operator_state(store: StateStore) -> None:
    assert store.get_operator_state("r1", "T1", "a") is None
    state = store.put_operator_state("r1", "T1", "a", restart_attempts=1, last_alert="stalled")
    assert (state.restart_attempts, state.consecutive_unhealthy, state.last_alert) == (1, 0, "stalled")
    state = store.put_operator_state("r1", "T1", "a", consecutive_unhealthy=3)
    assert (state.restart_attempts, state.consecutive_unhealthy) == (1, 3)
    with pytest.raises(StateError):
        store.put_operator_state("r1", "T1", "a", bogus=1)


def test_list_runs_fast_with_many_runs(store: StateStore) -> None:
    at = time.time()
    with store.db.write() as conn:
        conn.executemany(
            "INSERT INTO runs (run_id, plan_name, plan_hash, status, created_at, updated_at, graph_json)"
            " VALUES (?, ?, 'h', ?, ?, ?, '{}')",
            [(f"r{i:04d}", f"plan{i % 10}", "closed" if i % 3 else "running" if i >= 1470 else "ended", at + i,
              at + i) for i in range(1500)],  # one active run per plan (a unique index)
        )
        conn.executemany(
            "INSERT INTO steps (run_id, step_id, kind, ticket, status, definition_hash, created_at, updated_at)"
            " VALUES (?, 'workspace', 'workspace', ?, 'done', 'd', 0, 0)",
            [(f"r{i:04d}", f"T{i % 50}") for i in range(1500)],
        )
    started = time.perf_counter()
    newest = store.list_runs(limit=20)
    running = store.list_runs(status_in=["ended"], plan_name="plan0")
    by_ticket = store.list_runs(ticket="T7")
    active = store.active_run_for_plan("plan3")
    elapsed = time.perf_counter() - started
    assert newest[0].run_id == "r1499" and len(newest) == 20
    assert all(r.status == "ended" and r.plan_name == "plan0" for r in running) and len(running) == 49
    assert len(by_ticket) == 30
    assert active is not None and active.run_id == "r1473"
    assert store.list_runs(status_in=[]) == []
    assert elapsed < 0.3
    plan = store.db.read("EXPLAIN QUERY PLAN SELECT * FROM runs WHERE plan_name = ? AND status = ?", ("p", "x"))
    assert "runs_plan_status" in " ".join(str(tuple(r)) for r in plan)
