"""Agent hooks: Claude Code's SessionStart/Stop hooks and Codex's notify post the agent's own status
(`session started`, `turn finished`) in its control thread."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agents.conftest import agent_plan, use_model
from tests.agents.fakemodel import FakeModel, bash, say
from tests.agents.test_scenarios import COMMIT, SIGNAL, run_id_of, wait_step
from tests.engine.conftest import engine, project  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_the_cli_reports_its_own_status_to_the_forum(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    with FakeModel([bash(COMMIT), bash(SIGNAL), say("All done.")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"hk{name}", name)), cwd=project).code == 0
        assert wait_step(cli, project, {"done", "failed"})["status"] == "done"
        run_id = run_id_of(cli, project)
        eng = engine(project)
        thread = eng.forum.control_thread_id(run_id, "DEMO-1/impl")
        bodies: list[str] = []
        for _ in range(100):  # the last turn ends after the completion signal
            bodies = [p.body for p in eng.forum.get_thread(thread)[1]]
            if any("turn finished" in b for b in bodies):
                break
            time.sleep(0.2)
    assert any(b.startswith("agent event: turn finished (attempt 1)") for b in bodies), (bodies, cli("logs", "impl", cwd=project).out[-3000:])
    if name == "claude":
        assert any(b.startswith("agent event: session started (attempt 1)") for b in bodies), bodies


def test_agent_event_outside_a_session_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("agent-event", "stop", "{}", cwd=tmp_path)
    assert result.code == 2 and "METAWSM_HOME" in result.err
