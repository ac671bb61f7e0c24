"""The LLM adviser: `operator.llm.command` runs with `/bin/sh -c`, gets one JSON situation on stdin and
METAWSM_LLM_MODEL / METAWSM_LLM_MAX_TOKENS in its environment, and must print one JSON decision:

    {"intent": "wait|restart|escalate|answer", "reason": "...", "answer": "...", "confidence": 0.0-1.0}

A timeout, a non-zero exit, output that holds no JSON object, or an unknown intent is logged and yields
None: the deterministic decision stands. docs/operator.md documents the contract and example adapters.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metawsm.errors import MetawsmError

if TYPE_CHECKING:
    from metawsm.config.models import LLMPolicy

log = logging.getLogger(__name__)

INTENTS = ("wait", "restart", "escalate", "answer")
SITUATION_VERSION = 1
PANE_LINES = 40


@dataclass(frozen=True)
class Advice:
    intent: str
    reason: str
    answer: str | None
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "reason": self.reason, "answer": self.answer, "confidence": self.confidence}


class AdviceError(ValueError):
    """The command's output is not a valid decision."""


def _json_object(text: str) -> dict[str, Any]:
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        # Tolerate chatter or a code fence around the object: the first '{' to the last '}'.
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise AdviceError("no JSON object in the output") from None
        try:
            data = json.loads(text[start:end + 1])
        except ValueError as exc:
            raise AdviceError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AdviceError(f"expected a JSON object, got {type(data).__name__}")
    return data


def parse(text: str) -> Advice:
    data = _json_object(text)
    intent = data.get("intent")
    if intent not in INTENTS:
        raise AdviceError(f"unknown intent {intent!r} (allowed: {', '.join(INTENTS)})")
    raw_conf = data.get("confidence", 0.0)
    try:
        confidence = float(raw_conf) if not isinstance(raw_conf, bool) else 0.0
    except (TypeError, ValueError):
        raise AdviceError(f"confidence {raw_conf!r} is not a number") from None
    answer = data.get("answer")
    return Advice(str(intent), str(data.get("reason") or ""), str(answer) if answer not in (None, "") else None,
                  min(max(confidence, 0.0), 1.0))


def consult(llm: LLMPolicy, situation: dict[str, Any], *, cwd: str | None = None) -> Advice | None:
    """Ask the configured command; None (logged) when it fails in any way."""
    from metawsm.runtime import proc

    env = {**os.environ, "METAWSM_LLM_MODEL": llm.model, "METAWSM_LLM_MAX_TOKENS": str(llm.max_tokens)}
    where = f"{situation.get('run_id')} {situation.get('agent_key')}"
    try:
        done = proc.run_shell(llm.command, cwd=cwd, env=env, timeout=llm.timeout_seconds, check=False,
                              input=json.dumps(situation))
    except MetawsmError as exc:  # timed out (its process group is killed) or could not start
        log.warning("operator LLM failed for %s, the rules decide: %s", where, exc.message.splitlines()[0])
        return None
    if done.code != 0:
        log.warning("operator LLM exited with status %s for %s, the rules decide: %s", done.code, where,
                    proc.tail(done.stderr or done.stdout, 3))
        return None
    try:
        return parse(done.stdout)
    except AdviceError as exc:
        log.warning("operator LLM gave no usable decision for %s, the rules decide: %s (output: %.200s)",
                    where, exc, done.stdout.strip())
        return None
