"""`metawsm tui` as a person runs it: a real process in a terminal (a pane of a private tmux server), driven
with send-keys and read with capture-pane — help, a message echoed in the live preview, attach and detach
back into the dashboard, quit."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import project  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start
from tests.tui.conftest import ECHO

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


@pytest.fixture
def terminal(tmux_socket: str) -> Iterator[str]:
    """A second private tmux server: the terminal the dashboard runs in (killed afterwards)."""
    name = f"{tmux_socket}-term"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


def screen(term: str) -> str:
    return subprocess.run(["tmux", "-L", term, "capture-pane", "-p", "-t", "=tui:"], capture_output=True,
                          text=True).stdout


def keys(term: str, *keys: str) -> None:
    subprocess.run(["tmux", "-L", term, "send-keys", "-t", "=tui:", *keys], check=True)


def wait_screen(term: str, predicate, what: str, timeout: float = 30) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(term)
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the terminal shows:\n{text}")


def test_tui_in_a_terminal(project: Path, cli, tmux_socket: str, terminal: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    start(cli, project, agents_plan(project, "e", {"echo": ECHO}))
    command = shlex.join([sys.executable, "-m", "metawsm", "-C", str(project), "tui", "--interval", "1s"])
    subprocess.run(["tmux", "-L", terminal, "new-session", "-d", "-x", "140", "-y", "40", "-s", "tui", command],
                   check=True)
    wait_screen(terminal, lambda s: "DEMO-1" in s and "m message" in s and "ready" in s, "the dashboard")
    keys(terminal, "?")
    wait_screen(terminal, lambda s: "metawsm tui — keys" in s, "the help")
    keys(terminal, "Escape")
    wait_screen(terminal, lambda s: "metawsm tui — keys" not in s, "the help closed")
    keys(terminal, "m")
    wait_screen(terminal, lambda s: "enter sends" in s, "the message dialog")
    keys(terminal, "-l", "hi from a terminal")
    keys(terminal, "Enter")
    wait_screen(terminal, lambda s: "got: hi from a terminal" in s, "the echo in the live preview")
    keys(terminal, "Enter")  # attach: the dashboard steps aside, tmux shows the agent's session
    attached = wait_screen(terminal, lambda s: "m message" not in s and "got: hi from a terminal" in s, "the attach")
    assert "[e-DEMO-1" in attached  # the inner tmux's status line names the session (cut at 10 characters)
    keys(terminal, "C-b", "d")  # detach: back in the dashboard
    wait_screen(terminal, lambda s: "m message" in s and "DEMO-1" in s, "the dashboard after detaching")
    keys(terminal, "q")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if subprocess.run(["tmux", "-L", terminal, "has-session", "-t", "=tui"], capture_output=True).returncode:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("metawsm tui did not exit on q:\n" + screen(terminal))
