"""`metawsm operator --llm-mode assist|auto` end to end with the real CLIs as the adviser (the adapter scripts of
docs/operator.md, against the scripted model): a shell agent waits in `metawsm ask`; in auto mode the model's
answer reaches the agent, which completes; in assist mode the recommendation is a note in the control thread
and the question stays for a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.conftest import CODEX_MODEL, use_model
from tests.agents.fakemodel import FakeModel, say
from tests.agents.test_operator_llm import adapter
from tests.engine.conftest import commit_all, engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start

pytestmark = [pytest.mark.agents, pytest.mark.tmux]

ASKER = "answer=$(metawsm ask 'Which DB?' --timeout 120) && echo \"$answer\" > ../answer.txt && " \
        "metawsm signal completion --summary \"used $answer\""


@pytest.mark.parametrize(("name", "mode"), [("claude", "auto"), ("codex", "auto"), ("claude", "assist"), ("codex", "assist")])
def test_the_operator_consults_the_cli_and_acts_on_its_decision(  # type: ignore[no-untyped-def]
        name: str, mode: str, project: Path, cli, agent_cli, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        isolated_env: Path, tmp_path: Path) -> None:
    agent_cli(name)
    command = adapter(name, tmp_path)
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "operator:\n  llm:\n    mode: \"off\"\n"
                      f"    command: {json.dumps(command)}\n    model: {CODEX_MODEL}\n    timeout_seconds: 90\n"
                      "    min_confidence: 0.5\n", encoding="utf-8")
    commit_all(project, "an LLM adviser")
    decision = {"intent": "answer", "reason": "the README says SQLite", "answer": "SQLite", "confidence": 0.9}
    with FakeModel([say(json.dumps(decision))]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        model.side_reply = json.dumps(decision)  # an adviser is offered no tools: each of its requests is "side"
        run_id = start(cli, project, agents_plan(project, f"op{mode}", {"asker": ASKER}))
        eng = engine(project)
        wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question, timeout=30,
                 what="the agent's question")
        result = cli("operator", "--once", "--json", "--llm-mode", mode, cwd=project)
        assert result.code == 0, result.out + result.err
        decisions = [json.loads(line) for line in result.out.splitlines()]
        asked = json.dumps([r.body for r in model.requests if r.api != "get"])
    assert "Which DB?" in asked, model.summary()  # the situation reached the model through the real CLI
    (llm,) = [d for d in decisions if d["source"] == "llm"]
    thread = eng.forum.control_thread_id(run_id, "DEMO-1/asker")
    if mode == "auto":
        assert (llm["intent"], llm["executed"], llm["answer"]) == ("answer", True, "SQLite"), decisions
        answer = project / ".metawsm" / "workspaces" / "answer.txt"
        wait_for(lambda: answer.exists() and answer.read_text().strip() == "SQLite", 30, "the agent to get the answer")
        assert eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question is None
    else:
        assert llm["intent"] == "answer" and not llm["executed"] and llm.get("note_posted"), decisions
        bodies = [p.body for p in eng.forum.get_thread(thread)[1]]
        assert any("SQLite" in b for b in bodies), bodies  # the recommendation, for a person to read
        assert eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question == "Which DB?"
