"""The operator's LLM adapters of docs/operator.md, run as written with the real CLIs: the scripted model's
decision JSON comes back as the operator's advice; a garbage reply and a timeout fall back (None)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from metawsm.config.models import LLMPolicy
from metawsm.operator.llm import consult
from tests.agents.conftest import CODEX_MODEL, use_model
from tests.agents.fakemodel import FakeModel, say

pytestmark = [pytest.mark.agents]

DOC = Path(__file__).resolve().parents[2] / "docs" / "operator.md"
SITUATION = {"version": 1, "run_id": "r1", "agent_key": "DEMO-1/impl", "pending_question": "Which DB?",
             "rule_decision": {"intent": "wait"}}


def adapter(name: str, folder: Path) -> str:
    """The adapter script exactly as docs/operator.md prints it, saved where the policy would point."""
    text = DOC.read_text(encoding="utf-8")
    title = {"codex": "### Adapter for `codex exec`", "claude": "### Adapter for `claude -p`"}[name]
    block = re.search(r"```sh\n(.*?)```", text[text.index(title):], re.S)
    assert block is not None
    path = folder / f"operator-{name}.sh"
    path.write_text(block.group(1), encoding="utf-8")
    return f"sh {path}"


def policy(command: str, timeout: int = 60) -> LLMPolicy:
    return LLMPolicy(mode="assist", command=command, model=CODEX_MODEL, timeout_seconds=timeout, max_tokens=400,
                     min_confidence=0.5)


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_documented_adapter_returns_the_models_decision(name: str, agent_cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                        isolated_env: Path, tmp_path: Path) -> None:
    agent_cli(name)
    decision = {"intent": "answer", "reason": "the README says SQLite", "answer": "Use SQLite.", "confidence": 0.9}
    command = adapter(name, tmp_path)
    with FakeModel([say(json.dumps(decision))]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        model.side_reply = json.dumps(decision)  # no tools offered to an adviser: every request is "side"
        advice = consult(policy(command), SITUATION, cwd=str(tmp_path))
        asked = json.dumps([r.body for r in model.requests if r.api != "get"])
    assert advice is not None, model.summary()
    assert (advice.intent, advice.answer, advice.confidence) == ("answer", "Use SQLite.", 0.9)
    assert "Which DB?" in asked  # the situation reached the model


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_garbage_reply_and_timeout_fall_back(name: str, agent_cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                             isolated_env: Path, tmp_path: Path) -> None:
    agent_cli(name)
    command = adapter(name, tmp_path)
    with FakeModel([say("I think you should probably wait a bit.")]) as model:
        use_model(name, model, monkeypatch, isolated_env)
        model.side_reply = "I think you should probably wait a bit."
        assert consult(policy(command), SITUATION, cwd=str(tmp_path)) is None
        assert model.requests
        model.delay = 30.0  # the model now takes longer than the operator waits
        assert consult(policy(command, timeout=3), SITUATION, cwd=str(tmp_path)) is None
