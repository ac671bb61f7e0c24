"""`metawsm ask` tells whoever attaches to the agent's pane that it waits, with the exact command that answers it
and — when `metawsm serve` runs for the repository — the web UI page of the thread."""

from __future__ import annotations

import shlex
import subprocess
import urllib.request
from pathlib import Path

from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.server.test_serve import start as serve
from tests.server.test_serve import stop


def _pane(socket: str, session: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-J", "-t", f"={session}:"],
                          capture_output=True, text=True).stdout


def test_ask_shows_in_the_pane_how_to_answer(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    daemon, url = serve(project)
    try:
        assert (project / ".metawsm" / "state" / "serve.json").exists()
        run_id = start(cli, project, agents_plan(project, "a", {
            "asker": "echo got: $(metawsm ask 'Which DB?' --timeout 120); sleep 300"}))
        session = "a-DEMO-1-asker"
        wait_for(lambda: "or in the web UI" in _pane(tmux_socket, session), what="the waiting message")
        thread = engine(project).forum.control_state(run_id, "DEMO-1/asker", 1).pending_thread_id
        lines = [line for line in _pane(tmux_socket, session).splitlines() if line.strip()]
        assert lines[-3:] == [
            "metawsm ask: waiting for an answer to: Which DB?",
            f"  answer with: metawsm -C {shlex.quote(str(project))} forum answer {thread} --body 'ANSWER'",
            f"  or in the web UI: {url}/forum/threads/{thread}"]
        page = urllib.request.urlopen(f"{url}/forum/threads/{thread}", timeout=10).read().decode()
        assert "Which DB?" in page
        command = lines[-2].split("answer with: ", 1)[1].replace("'ANSWER'", "sqlite")
        subprocess.run(shlex.split(command), check=True, capture_output=True, cwd="/")  # exactly as shown
        wait_for(lambda: "got: sqlite" in _pane(tmux_socket, session), what="the answer in the pane")
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert not (project / ".metawsm" / "state" / "serve.json").exists()  # the daemon forgot its address


def test_ask_without_a_daemon_names_only_the_command(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    start(cli, project, agents_plan(project, "b", {"asker": "metawsm ask 'Ready?' --timeout 120 >/dev/null"}))
    wait_for(lambda: "answer with:" in _pane(tmux_socket, "b-DEMO-1-asker"), what="the waiting message")
    pane = _pane(tmux_socket, "b-DEMO-1-asker")
    assert "waiting for an answer to: Ready?" in pane and "web UI" not in pane
