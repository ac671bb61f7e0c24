"""Agent health on real tmux and git: alive, dead (session gone, pane process killed), idle, stalled by
silence, stalled by missing progress while the pane is busy, and recovery through a signal or a commit."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from metawsm.engine.health import evaluate_run, is_unhealthy
from tests.engine.conftest import commit_all, engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start

CHATTY = "while true; do date; sleep 0.3; done"


def _one(eng, run_id):  # type: ignore[no-untyped-def]
    eng.forget_sessions()
    (h,) = evaluate_run(eng, run_id)
    return h


def test_a_fresh_agent_is_healthy_and_running(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "h", {"sleeper": "sleep 300"}))
    eng = engine(project)
    h = _one(eng, run_id)
    assert (h.health, h.status, h.evaluated) == ("healthy", "running", True)
    assert not is_unhealthy(h.status, h.health)
    assert eng.store.get_agent(run_id, "DEMO-1", "sleeper").health == "healthy"


def test_killed_session_is_dead(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "h", {"sleeper": "sleep 300"}))
    eng = engine(project)
    agent = eng.store.get_agent(run_id, "DEMO-1", "sleeper")
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", f"={agent.session}"], check=True)
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("dead", "dead") and "is gone" in h.reason
    assert [(t.from_state, t.to_state) for t in eng.store.audit(run_id, entity="agent", limit=1)] == [("running", "dead")]


def test_killed_pane_process_is_dead_with_its_exit_status(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "h", {"sleeper": "sleep 300"}))
    eng = engine(project)
    pid = eng.store.get_agent(run_id, "DEMO-1", "sleeper").pane_pid
    assert pid
    os.kill(pid, signal.SIGKILL)  # the pane process this test's apply started
    wait_for(lambda: eng.sessions(refresh=True)["h-DEMO-1-sleeper"].dead, what="pane to die")
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("dead", "dead") and "exited" in h.reason


def test_idle_then_stalled_by_silence_then_dead_is_final(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket, idle=5, activity=50, progress=500)
    run_id = start(cli, project, agents_plan(project, "h", {"sleeper": "sleep 300"}))
    eng = engine(project)
    t0 = time.time()
    eng.clock = lambda: t0 + 10
    assert (_one(eng, run_id).health, eng.store.get_agent(run_id, "DEMO-1", "sleeper").status) == ("idle", "idle")
    eng.clock = lambda: t0 + 60
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("stalled", "stalled") and "no pane activity" in h.reason
    eng.clock = lambda: t0 + 1  # activity again (as far as the clock goes): stalled → running
    assert (_one(eng, run_id).status) == "running"
    moves = [(t.from_state, t.to_state) for t in reversed(eng.store.audit(run_id, entity="agent"))]
    assert moves[-3:] == [("running", "idle"), ("idle", "stalled"), ("stalled", "running")]


def test_progress_stalls_while_the_pane_is_busy(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The Go port's bug: progress took the activity time, so a busy agent never stalled on progress."""
    set_health(project, tmux_socket, idle=60, activity=120, progress=2)
    run_id = start(cli, project, agents_plan(project, "h", {"chatty": CHATTY}))
    eng = engine(project)
    time.sleep(3)
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("stalled", "stalled"), h.reason
    assert "no signal or commit" in h.reason and h.activity_age is not None and h.activity_age < 60


def test_a_signal_or_a_commit_is_progress(project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock runs 30 s ahead to find the agent stalled, and on time to find a signal fresh; the commit is dated
    30 s ahead, so only it can be the fresh progress then (a real 2 s threshold raced a loaded machine: a commit
    time has whole seconds, and an evaluation can take one)."""
    set_health(project, tmux_socket, idle=60, activity=120, progress=10)
    run_id = start(cli, project, agents_plan(project, "h", {"chatty": CHATTY}))
    eng = engine(project)
    ahead = 30.0
    eng.clock = lambda: time.time() + ahead
    assert _one(eng, run_id).health == "stalled"
    eng.forum.signal(run_id, "DEMO-1", "DEMO-1/chatty", 1, "validation", status="passed", done_criteria="x",
                     sha="0" * 40)
    ahead = 0.0
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("healthy", "running"), h.reason
    ahead = 30.0
    h = _one(eng, run_id)
    assert h.health == "stalled" and "no signal or commit" in h.reason, h.reason
    wt = project / ".metawsm/workspaces/DEMO-1"
    (wt / "work.txt").write_text("progress\n")
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"@{int(time.time() + ahead)} +0000")
    commit_all(wt, "progress")
    assert _one(eng, run_id).health == "healthy"


def test_a_waiting_question_is_idle_not_stalled(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket, idle=5, activity=20, progress=30)
    run_id = start(cli, project, agents_plan(project, "h", {"asker": "metawsm ask 'Which DB?' --timeout 120"}))
    eng = engine(project)
    wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question, what="the question")
    t0 = time.time()
    eng.clock = lambda: t0 + 100
    h = _one(eng, run_id)
    assert (h.health, h.status) == ("idle", "idle") and "waiting for an answer" in h.reason


@pytest.mark.parametrize("status", ["stopped", "pending"])
def test_agents_outside_running_idle_stalled_are_never_touched(project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                status: str) -> None:
    set_health(project, tmux_socket)
    eng = engine(project)
    run = eng.store.create_run("r1", "p", "h", "{}")
    eng.store.upsert_agent(run.run_id, "DEMO-1", "a", "shell", "no-such-session")
    if status == "stopped":
        eng.store.transition_agent(run.run_id, "DEMO-1", "a", "stopped")
    before = eng.store.get_agent(run.run_id, "DEMO-1", "a")
    (h,) = evaluate_run(eng, run.run_id)
    assert not h.evaluated and h.status == status
    assert eng.store.get_agent(run.run_id, "DEMO-1", "a") == before


def test_one_tmux_query_per_evaluation(project: Path, cli, tmux_socket: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "h", {f"a{i}": "sleep 300" for i in range(3)}))
    eng = engine(project)
    calls = []
    real = eng.runtime.sessions
    monkeypatch.setattr(eng.runtime, "sessions", lambda: calls.append(1) or real())
    monkeypatch.setattr(eng.runtime, "capture", lambda *a, **k: pytest.fail("captured a fresh pane"))
    eng.forget_sessions()
    assert {h.health for h in evaluate_run(eng, run_id)} == {"healthy"}
    assert len(calls) == 1


def test_an_attempt_that_signals_and_ends_after_the_signals_were_read_is_not_dead(  # type: ignore[no-untyped-def]
        project: Path, cli, tmux_socket: str, tmp_path: Path) -> None:  # noqa: F811
    """`status` read the run's signals, then the sessions: an agent that signalled completion and exited in
    between was judged dead on the signals read before its signal (found by reading; made certain here)."""
    from metawsm.engine.health import run_signals

    go = tmp_path / "go"
    command = f"while [ ! -e {go} ]; do sleep 0.1; done; METAWSM_KICK=0 metawsm signal completion --summary done"
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "h", {"impl": command}))
    eng = engine(project)
    assert _one(eng, run_id).health == "healthy"
    read_before = run_signals(eng, run_id)  # the view a status took just before the agent signalled
    go.touch()
    wait_for(lambda: eng.sessions(refresh=True)["h-DEMO-1-impl"].dead, what="the agent to signal and exit")
    eng.forget_sessions()
    (h,) = evaluate_run(eng, run_id, signals=read_before)
    assert (h.status, h.reason) == ("running", "signalled completion; reconcile finishes it"), h
    assert eng.store.get_agent(run_id, "DEMO-1", "impl").status == "running"  # left for reconcile to finish
