"""Rule 3 on real tmux: confirmations, restarts with a new attempt, the persisted budget (across operator
processes), exactly one escalation, cooldown, completion resetting the budget, stale attempts."""

from __future__ import annotations

import time
from pathlib import Path

from metawsm.engine.lifecycle import stop_run
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.operator._helpers import configure, kill, only, sessions, tick, tick_process

SESSION = "op-DEMO-1-w"


def test_budget_then_exactly_one_escalation_across_operator_processes(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=2, budget=2)
    run_id = start(cli, project, agents_plan(project, "op", {"w": "sleep 300"}))
    assert tick_process(project) == []  # healthy and idle: no decision, no LLM
    eng = engine(project)
    for attempt in (1, 2):
        kill(tmux_socket, SESSION)
        (wait,) = tick_process(project)  # every tick is a new operator process: the count is in state.db
        assert (wait["intent"], wait["executed"]) == ("wait", False) and "1/2 ticks" in wait["reason"]
        (restart,) = tick_process(project)
        assert (restart["source"], restart["intent"], restart["executed"], restart["new_attempt"]) == \
            ("rules", "restart", True, attempt + 1)
        state = eng.store.get_operator_state(run_id, "DEMO-1", "w")
        assert state is not None and (state.restart_attempts, state.consecutive_unhealthy) == (attempt, 0)
        assert sessions(tmux_socket) == [SESSION]
        agent = eng.store.get_agent(run_id, "DEMO-1", "w")
        assert (agent.attempt, agent.status) == (attempt + 1, "running")
    kill(tmux_socket, SESSION)
    assert tick_process(project)[0]["intent"] == "wait"
    (esc,) = tick_process(project)
    assert (esc["intent"], esc["kind"], esc["executed"]) == ("escalate", "budget", True)
    assert "restart budget exhausted (2/2)" in esc["reason"]
    for _ in range(2):
        (d,) = tick_process(project)
        assert (d["intent"], d["executed"]) == ("wait", False) and "already escalated" in d["reason"]
    assert eng.store.get_agent(run_id, "DEMO-1", "w").attempt == 3  # no restart after the budget
    threads = [t for t in eng.forum.list_threads(run_id=run_id) if not t.thread_id.startswith("fctrl-")]
    assert len(threads) == 1
    t = threads[0]
    assert (t.thread_id, t.priority, t.assignee_type, t.assignee_name, t.state, t.opened_by_type) == \
        (esc["thread_id"], "high", "human", "operator", "waiting_human", "operator")
    assert t.title == "DEMO-1/w: restart budget exhausted"
    log = (project / "tickets" / "DEMO-1.changelog.md").read_text()
    assert log.count("operator escalation (budget)") == 1 and esc["thread_id"] in log


def test_cooldown_then_restart_when_it_passed(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1, budget=3, cooldown=600)
    run_id = start(cli, project, agents_plan(project, "op", {"w": "sleep 300"}))
    kill(tmux_socket, SESSION)
    only(tick(project), intent="restart", executed=True)
    kill(tmux_socket, SESSION)
    for _ in range(2):
        d = only(tick(project), intent="wait", executed=False)
        assert "cooldown: next restart possible in" in d.reason
    eng = engine(project)
    assert eng.store.get_agent(run_id, "DEMO-1", "w").attempt == 2
    from metawsm.operator import Operator

    later = time.time() + 601
    eng.clock = lambda: later  # the cooldown has passed
    only(Operator(eng).tick(), intent="restart", executed=True)
    agent = eng.store.get_agent(run_id, "DEMO-1", "w")
    assert (agent.attempt, agent.status) == (3, "running")
    state = eng.store.get_operator_state(run_id, "DEMO-1", "w")
    assert state is not None and state.restart_attempts == 2 and state.cooldown_until == later + 600


def test_stale_completion_ignored_and_completion_resets_the_budget(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1, budget=3)
    run_id = start(cli, project, agents_plan(project, "op", {"w": "sleep 300"}))
    kill(tmux_socket, SESSION)
    only(tick(project), intent="restart", executed=True)
    eng = engine(project)
    # attempt 1's completion arrives late: it must not complete attempt 2 nor reset the budget
    eng.forum.signal(run_id, "DEMO-1", "DEMO-1/w", 1, "completion", summary="late", actor_type="agent")
    assert tick(project) == []
    agent = eng.store.get_agent(run_id, "DEMO-1", "w")
    assert (agent.attempt, agent.status) == (2, "running")
    assert eng.store.get_step(run_id, "agent:DEMO-1:w").status == "running"
    assert eng.store.get_operator_state(run_id, "DEMO-1", "w").restart_attempts == 1  # type: ignore[union-attr]
    eng.forum.signal(run_id, "DEMO-1", "DEMO-1/w", 2, "completion", summary="done", actor_type="agent")
    assert tick(project) == []
    assert eng.store.get_step(run_id, "agent:DEMO-1:w").status == "done"
    state = eng.store.get_operator_state(run_id, "DEMO-1", "w")
    assert state is not None and (state.restart_attempts, state.cooldown_until) == (0, None)


def test_never_restarts_what_a_person_stopped(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1, budget=3)
    run_id = start(cli, project, agents_plan(project, "op", {"w": "sleep 300"}))
    eng = engine(project)
    stop_run(eng, eng.store.get_run(run_id))
    for _ in range(2):
        assert tick(project) == [] and tick(project, run_id=run_id) == []
    agent = eng.store.get_agent(run_id, "DEMO-1", "w")
    assert (agent.attempt, agent.status, agent.stopped_by_user) == (1, "stopped", True)
    assert sessions(tmux_socket) == []


def test_dry_run_decides_but_acts_on_nothing_and_persists_nothing(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1, budget=0)
    run_id = start(cli, project, agents_plan(project, "op", {"w": "sleep 300"}))
    kill(tmux_socket, SESSION)
    assert cli("reconcile", cwd=project).code == 1  # the run failed: its agent died
    eng = engine(project)
    for _ in range(2):
        result = cli("operator", "--once", "--dry-run", cwd=project)
        assert result.code == 0, result.err
        assert " rules escalate " in result.out and "dry run: " in result.out
    assert eng.store.get_operator_state(run_id, "DEMO-1", "w") is None
    assert [t for t in eng.forum.list_threads(run_id=run_id) if not t.thread_id.startswith("fctrl-")] == []
    assert not (project / "tickets" / "DEMO-1.changelog.md").exists()
    result = cli("operator", "--once", cwd=project)  # for real: escalates (budget 0)
    assert " rules escalate " in result.out and "executed: " in result.out
    wait_for(lambda: eng.store.get_operator_state(run_id, "DEMO-1", "w"), 5, "state")
