"""Rule 2: a run with no sign of life for stale_run_age_seconds whose unfinished agents are all dead is
stopped, but only after tmux confirms it again; one live agent keeps the run."""

from __future__ import annotations

import time
from pathlib import Path

from tests.engine.conftest import engine, project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.operator._helpers import configure, kill, only, sessions, tick


def test_stale_run_is_stopped_once_every_agent_is_dead(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=5, budget=3, stale=1)
    run_id = start(cli, project, agents_plan(project, "st", {"a": "sleep 300", "b": "sleep 300"}))
    kill(tmux_socket, "st-DEMO-1-a")
    time.sleep(1.2)
    decisions = tick(project)  # b is alive: not stale; a waits for confirmations
    assert [(d.intent, d.agent) for d in decisions] == [("wait", "a")]
    kill(tmux_socket, "st-DEMO-1-b")
    time.sleep(1.2)
    tick(project)  # b is found dead now (a sign of life: its status changed)
    time.sleep(1.2)
    d = only(tick(project), source="rules", intent="stop", executed=True)
    assert "every unfinished agent is dead (DEMO-1/a, DEMO-1/b)" in d.reason
    eng = engine(project)
    run = eng.store.get_run(run_id)
    assert run.status == "stopped"
    assert any("operator: stale run" in t.reason for t in eng.store.audit(run_id, entity="run"))
    assert tick(project) == []  # stopped runs are left alone


def test_stale_candidate_with_a_live_pane_is_not_stopped(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=5, stale=1)
    run_id = start(cli, project, agents_plan(project, "st", {"a": "sleep 300"}))
    eng = engine(project)
    eng.store.transition_agent(run_id, "DEMO-1", "a", "dead", "recorded dead, but its pane lives on")
    time.sleep(1.2)
    d = only(tick(project), intent="wait", executed=False)
    assert d.reason == "stale candidate not verified: session st-DEMO-1-a of DEMO-1/a is alive"
    assert eng.store.get_run(run_id).status == "running" and sessions(tmux_socket) == ["st-DEMO-1-a"]
