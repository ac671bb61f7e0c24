"""`metawsm mcp` with the real CLIs: the agent reports through MCP tools (no shell needed to report) —
ticket_context, ask_human answered by a person, signal_completion for its own attempt."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agents.conftest import agent_plan, steps, use_model
from tests.agents.fakemodel import FakeModel, bash, say, tool
from tests.agents.test_scenarios import COMMIT, run_id_of, wait_step
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents, pytest.mark.tmux]


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_agent_reports_through_the_mcp_tools(name: str, project: Path, cli, agent_cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    agent_cli(name)
    turns = [bash(COMMIT), tool("ticket_context"), tool("ask_human", question="Which colour?"),
             tool("signal_completion", summary="reported through MCP"), say("done")]
    with FakeModel(turns) as model:
        use_model(name, model, monkeypatch, isolated_env)
        assert cli("apply", str(agent_plan(project, f"mcp{name}", name)), cwd=project).code == 0
        run_id = run_id_of(cli, project)
        eng = engine(project)
        try:
            wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/impl", 1).pending_question, timeout=60,
                     what="the question asked through MCP")
        except AssertionError:
            names = [t.get("name") for r in model.main_requests()[-1:] for t in r.body.get("tools") or []]
            raise AssertionError(f"{model.summary()} {model.tool_results()} {names}") from None
        time.sleep(2)
        thread = eng.forum.control_thread_id(run_id, "DEMO-1/impl")
        assert cli("forum", "answer", thread, "--body", "blue", cwd=project).code == 0
        step = wait_step(cli, project, {"done", "failed"})
        assert step["status"] == "done", (step, model.tool_results())
        # the step is done once the signal is in the forum; the tool's result reaches the model with the CLI's
        # next request, a moment later (this raced on CI)
        wait_for(lambda: any("completion recorded" in o for o in model.tool_results()), timeout=60,
                 what="the completion tool result reaching the model")
        outputs = model.tool_results()
    context = next(o for o in outputs if "pending_question" in o)
    assert "DEMO-1" in context and run_id in context and '"attempt": 1' in context.replace('":1', '": 1')
    assert any("blue" in o for o in outputs), outputs  # ask_human returned the person's answer
    assert any("completion recorded for attempt 1" in o for o in outputs), outputs
    state = eng.forum.control_state(run_id, "DEMO-1/impl", 1)
    assert state.completion is not None and state.completion[0] == "reported through MCP"
    assert steps(cli, project)["agent:DEMO-1:impl"]["status"] == "done"
