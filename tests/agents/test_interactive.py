"""Interactive agents: the real CLI's TUI runs in the tmux session with metawsm's prompt as its first message,
no first-run dialog waits (folder trust, API-key approval are pre-answered in the CLIs' own config), and the
agent commits and signals completion as in headless mode."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.agents.conftest import agent_plan, status_agents, steps, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.engine.conftest import project  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]

COMMIT = "printf 'hello\\n' > hello.txt && git add hello.txt && git commit -q -m 'add hello' && echo COMMITTED"
SIGNAL = "metawsm signal completion --summary 'interactive work done' && echo SIGNALLED"
# what the CLIs' first-run dialogs say (Claude Code: trust this folder, use this API key, bypass warning,
# theme/onboarding; Codex: trust this folder, sign in)
DIALOG = re.compile(r"trust (the files in )?this folder|Do you trust|Do you want to use this API key|"
                    r"Yes, I accept|choose the text style|Sign in with ChatGPT|Select a theme|Press Enter to continue|"
                    r"allow Codex to work in this folder", re.I)


def capture(socket: str, session: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-J", "-t", f"={session}:^"],
                          capture_output=True, text=True).stdout


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_interactive_tui_takes_the_prompt_with_no_dialog_waiting(  # type: ignore[no-untyped-def]
        name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        isolated_env: Path, tmux_socket: str) -> None:
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash("sleep 4; echo PAUSED"), bash(SIGNAL), say("All done.")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        plan = agent_plan(project, f"i{name}", name, mode="interactive")
        assert cli("apply", str(plan), cwd=project).code == 0
        session = status_agents(cli, project)["DEMO-1/impl"]["session"]
        model.wait_turn(1, timeout=60)  # the TUI sent the prompt and ran the first command
        screen = capture(tmux_socket, session)
        assert not DIALOG.search(screen), screen
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cli("reconcile", cwd=project)
            if steps(cli, project)["agent:DEMO-1:impl"]["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        step = steps(cli, project)["agent:DEMO-1:impl"]
        assert step["status"] == "done", (step, screen, model.summary())
        assert "COMMITTED" in screen  # the TUI is past any dialog: it sent the prompt and shows the command
        first = model.main_requests()[0]
        # a person attached to the session steers: what they type reaches the model as the next message
        steer = "Please also mention the greeting in the README."
        subprocess.run(["tmux", "-L", tmux_socket, "send-keys", "-t", f"={session}:^", "-l", steer], check=True)
        time.sleep(0.5)
        subprocess.run(["tmux", "-L", tmux_socket, "send-keys", "-t", f"={session}:^", "Enter"], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(steer in json.dumps(r.body) for r in model.main_requests()):
            time.sleep(0.2)
        assert any(steer in json.dumps(r.body) for r in model.main_requests()), capture(tmux_socket, session)
    assert "DEMO-1" in json.dumps(first.body)  # the prompt was the TUI's first message
    assert subprocess.run(["git", "log", "--format=%s", "metawsm/DEMO-1"], cwd=project, capture_output=True,
                          text=True).stdout.startswith("add hello")
