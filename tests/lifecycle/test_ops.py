"""stop, resume and restart on live agents (real tmux)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.engine.conftest import engine, project, wait_for, write_plan  # noqa: F401 - fixture

SLEEPER = ("tickets: [DEMO-1, DEMO-2]\nagents:\n  - name: w\n    profile: shell\n"
           "    run: printf '%s|%s' \"$METAWSM_ATTEMPT\" \"$METAWSM_RESTART_NOTE\" > ../env-$METAWSM_TICKET.txt; sleep 120\n")


def live_sessions(socket: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket, "ls", "-F", "#{session_name}"], capture_output=True, text=True)
    return sorted(out.stdout.split())


def test_stop_then_resume(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    assert live_sessions(tmux_socket) == ["sleepy-DEMO-1-w", "sleepy-DEMO-2-w"]
    assert cli("stop", cwd=project).code == 0
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert run.status == "stopped" and live_sessions(tmux_socket) == []
    agents = eng.store.list_agents(run.run_id)
    assert {(a.status, a.stopped_by_user) for a in agents} == {("stopped", True)}
    assert cli("stop", cwd=project).code == 0  # nothing active: no-op
    assert cli("resume", "--run", run.run_id, cwd=project).code == 0
    run = eng.store.get_run(run.run_id)
    assert run.status == "running" and live_sessions(tmux_socket) == ["sleepy-DEMO-1-w", "sleepy-DEMO-2-w"]
    assert {(a.status, a.attempt, a.stopped_by_user) for a in eng.store.list_agents(run.run_id)} == {("running", 2, False)}


def test_restart_one_agent_tells_it_so(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write_plan(project, "sleepy", SLEEPER)
    assert cli("apply", "plans/sleepy.yaml", cwd=project).code == 0
    env_file = project / ".metawsm/workspaces/env-DEMO-1.txt"
    wait_for(env_file.exists, 10, "the agent to start")
    assert env_file.read_text() == "1|"
    assert cli("restart", "--agent", "w", cwd=project).code == 2  # two tickets have an agent w
    assert cli("restart", "--agent", "DEMO-1/w", cwd=project).code == 0
    wait_for(lambda: env_file.read_text().startswith("2|"), 10, "the second attempt")
    assert "this is a restart (attempt 2; previous attempt 1 ended: restarted by a person)" in env_file.read_text()
    eng = engine(project)
    (run,) = eng.store.list_runs()
    attempts = {a.ticket: a.attempt for a in eng.store.list_agents(run.run_id)}
    assert attempts == {"DEMO-1": 2, "DEMO-2": 1}


def test_lifecycle_commands_without_runs(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for verb in ("stop", "resume", "restart", "cleanup", "gate", "close"):
        result = cli(verb, cwd=repo)  # not a metawsm repository yet: nothing is created, init is named
        assert result.code == 1 and ("metawsm init" in result.err or "no runs yet" in result.err), verb
        assert not (repo / ".metawsm").exists(), verb
    assert cli("init", cwd=repo).code == 0
    for verb in ("stop", "resume", "restart", "cleanup", "gate", "close"):
        result = cli(verb, cwd=repo)
        assert result.code == 1 and "no runs yet" in result.err, verb
