"""Headless (claude -p / codex exec) agents with the real CLIs complete a ticket: commit, signal, finish."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.agents.conftest import agent_plan, status_agents, steps, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.engine.conftest import project  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]

COMMIT = ("printf 'hello\\n' > hello.txt && git add hello.txt && git commit -q -m 'add hello' "
          "&& echo COMMITTED")
SIGNAL = "metawsm signal completion --summary 'scripted work done' && echo SIGNALLED"


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_commit_and_completion(name: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]  # noqa: F811
                               isolated_env: Path) -> None:
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("All done.")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        plan = agent_plan(project, f"h{name}", name)
        result = cli("apply", str(plan), "--wait", "--timeout", "90", cwd=project)
        assert result.code == 0, result.out + result.err + str(model.summary()) + str(model.tool_results())
        outputs = model.tool_results()
    assert any("COMMITTED" in o for o in outputs) and any("SIGNALLED" in o for o in outputs), outputs
    log = subprocess.run(["git", "log", "--format=%s", "metawsm/DEMO-1"], cwd=project, capture_output=True,
                         text=True, check=True).stdout
    assert "add hello" in log
    agent = status_agents(cli, project)["DEMO-1/impl"]
    assert agent["status"] == "stopped" and agent["attempt"] == 1
    assert steps(cli, project)["agent:DEMO-1:impl"]["status"] == "done"
    first = model.main_requests()[0]
    assert "DEMO-1" in str(first.body)  # metawsm's prompt reached the model
