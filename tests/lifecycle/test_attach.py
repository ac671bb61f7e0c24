"""metawsm attach without a terminal: the exact tmux command; names resolved, ambiguity refused."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start


def test_prints_the_command_when_not_a_terminal(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "a", {"sleeper": "sleep 300"}))
    expected = ["tmux", "-L", tmux_socket, "attach-session", "-t", "=a-DEMO-1-sleeper"]
    result = cli("attach", "sleeper", cwd=project)
    assert result.code == 0 and result.out.strip() == shlex.join(expected)
    data = json.loads(cli("attach", "DEMO-1/sleeper", "--run", run_id, "--json", cwd=project).out)
    assert data["command"] == expected and data["agent"] == "DEMO-1/sleeper" and data["run_id"] == run_id
    # the printed command really names the session (tmux refuses only because this is no terminal)
    probe = subprocess.run(expected, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert "can't find session" not in probe.stderr


def test_ambiguous_and_unknown_names(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "b", {"sleeper": "sleep 300"}, tickets=("DEMO-1", "DEMO-2")))
    result = cli("attach", "sleeper", cwd=project)
    assert result.code == 2
    assert "ambiguous" in result.err and "DEMO-1/sleeper" in result.err and "DEMO-2/sleeper" in result.err
    assert cli("attach", "sleeper", "--ticket", "DEMO-2", cwd=project).out.strip().endswith("=b-DEMO-2-sleeper")
    missing = cli("attach", "nobody", cwd=project)
    assert missing.code == 1 and "no agent nobody" in missing.err and "DEMO-1/sleeper" in missing.err


def test_gone_session_is_an_error_with_the_restart_hint(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "c", {"sleeper": "sleep 300"}))
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=c-DEMO-1-sleeper"], check=True)
    result = cli("attach", "sleeper", cwd=project)
    assert result.code == 1 and "not running" in result.err and "metawsm restart" in result.err
