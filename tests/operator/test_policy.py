"""The operator's policy block (golden error messages) and the LLM decision parser (table-driven)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.operator.llm import Advice, AdviceError, parse


class Golden(NamedTuple):
    name: str
    policy: str
    expected: str


HINT = "hint: fix the files above, then run `metawsm validate` again\n"

GOLDEN = [
    Golden("negative-budget", "operator:\n  restart_budget: -1\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:2:19: operator.restart_budget: -1 is less than the minimum of 0
 2 |   restart_budget: -1
   |                   ^
""" + HINT),
    Golden("assist-without-command", "operator:\n  llm:\n    mode: assist\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:3:11: operator.llm.mode: mode 'assist' needs operator.llm.command (or set mode: off)
 3 |     mode: assist
   |           ^
""" + HINT),
    Golden("auto-without-command", "operator:\n  llm: {mode: auto, command: '  '}\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:2:15: operator.llm.mode: mode 'auto' needs operator.llm.command (or set mode: off)
 2 |   llm: {mode: auto, command: '  '}
   |               ^
""" + HINT),
    Golden("unknown-mode", "operator:\n  llm:\n    mode: yolo\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:3:11: operator.llm.mode: 'yolo' is not one of: off, assist, auto
 3 |     mode: yolo
   |           ^
""" + HINT),
    Golden("zero-confirmations", "operator:\n  unhealthy_confirmations: 0\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:2:28: operator.unhealthy_confirmations: 0 is less than the minimum of 1
 2 |   unhealthy_confirmations: 0
   |                            ^
""" + HINT),
    Golden("confidence-above-one", "operator:\n  llm: {min_confidence: 1.5}\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:2:25: operator.llm.min_confidence: 1.5 is greater than the maximum of 1
 2 |   llm: {min_confidence: 1.5}
   |                         ^
""" + HINT),
    Golden("bad-assignee", "operator:\n  escalation: {assignee: alice}\n", """\
error: 1 error in 1 file:
.metawsm/policy.yaml:2:26: operator.escalation.assignee: 'alice' does not match '^(agent|operator|human|system):[^\\\\s]+$'
 2 |   escalation: {assignee: alice}
   |                          ^
""" + HINT),
]


@pytest.mark.parametrize("case", GOLDEN, ids=[g.name for g in GOLDEN])
def test_golden_policy_error(case: Golden, repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (repo / ".metawsm").mkdir()
    (repo / ".metawsm" / "policy.yaml").write_text(case.policy, encoding="utf-8")
    result = cli("validate", cwd=repo)
    assert (result.code, result.out) == (2, "")
    assert result.err == case.expected


def test_llm_mode_flag_needs_a_command(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", cwd=repo).code == 0
    result = cli("operator", "--once", "--llm-mode", "assist", cwd=repo)
    assert result.code == 2 and "LLM mode 'assist' needs operator.llm.command in the policy" in result.err
    result = cli("operator", "--once", "--llm-mode", "off", cwd=repo)
    assert result.code == 0 and "no runs yet" in result.err
    assert not (repo / ".metawsm" / "state" / "state.db").exists()


class Case(NamedTuple):
    name: str
    output: str
    expected: Advice | str  # an Advice, or the start of the AdviceError message


CASES = [
    Case("plain", '{"intent": "restart", "reason": "dead", "confidence": 0.8}', Advice("restart", "dead", None, 0.8)),
    Case("answer", '{"intent": "answer", "answer": "Postgres", "confidence": 1}', Advice("answer", "", "Postgres", 1.0)),
    Case("fenced", 'Sure!\n```json\n{"intent": "wait", "reason": "r"}\n```\n', Advice("wait", "r", None, 0.0)),
    Case("clamped", '{"intent": "escalate", "confidence": 7}', Advice("escalate", "", None, 1.0)),
    Case("garbage", "restart it, I guess", "no JSON object"),
    Case("broken", '{"intent": "restart", ', "no JSON object"),
    Case("half", 'x {"intent": } y', "not JSON"),
    Case("array", '[{"intent": "wait"}]', "expected a JSON object"),
    Case("unknown-intent", '{"intent": "auto_restart"}', "unknown intent 'auto_restart'"),
    Case("no-intent", '{"reason": "r"}', "unknown intent None"),
    Case("bad-confidence", '{"intent": "wait", "confidence": "high"}', "confidence 'high' is not a number"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parse_llm_output(case: Case) -> None:
    if isinstance(case.expected, Advice):
        assert parse(case.output) == case.expected
    else:
        with pytest.raises(AdviceError) as info:
            parse(case.output)
        assert str(info.value).startswith(case.expected)
