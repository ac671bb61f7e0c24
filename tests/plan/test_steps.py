"""Typed step records: every rendered step decodes to its kind's frozen dataclass, read by attribute; a recorded
step that does not fit its kind is refused naming the step and the field."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from metawsm.plan import StepGraph
from metawsm.plan.steps import (
    AgentStep,
    CheckStep,
    CloseStep,
    GateStep,
    SessionStep,
    ShellStep,
    StepDecodeError,
    WorkspaceStep,
    decode,
    spec_of,
)

PLAN = ("name: p\ntickets: [ABC-1]\nagents:\n  - {name: impl, profile: shell, run: 'echo hi', timeout_seconds: 30}\n"
        "checks: ['test -f x']\nauto_close: true\n"
        "steps:\n  - {id: 'lint:{{ ticket.id }}', run: 'ruff .', tmux: true, env: {A: b}}\n")


def test_every_rendered_step_decodes_to_its_record(render: Callable[..., StepGraph]) -> None:
    graph = render(PLAN)
    specs = {s.id: decode(s.kind, s.fields, step_id=s.id) for s in graph.steps}
    assert {sid: type(spec) for sid, spec in specs.items()} == {
        "workspace:ABC-1": WorkspaceStep, "session:ABC-1:impl": SessionStep, "agent:ABC-1:impl": AgentStep,
        "check:ABC-1": CheckStep, "gate:ABC-1": GateStep, "close:ABC-1": CloseStep, "lint:ABC-1": ShellStep}
    ws, session, agent = specs["workspace:ABC-1"], specs["session:ABC-1:impl"], specs["agent:ABC-1:impl"]
    assert isinstance(ws, WorkspaceStep) and isinstance(session, SessionStep) and isinstance(agent, AgentStep)
    assert ws.branch == "metawsm/ABC-1" and set(ws.repos) == {"self"} and ws.repos["self"].path == ws.path
    assert (agent.session, agent.cwd, agent.command, agent.timeout_seconds) == (session.name, ws.path, "echo hi", 30)
    assert session.env["METAWSM_TICKET"] == "ABC-1"
    check, shell = specs["check:ABC-1"], specs["lint:ABC-1"]
    assert isinstance(check, CheckStep) and check.commands == ("test -f x",) and check.cwd == ws.path
    assert isinstance(shell, ShellStep) and shell.tmux and shell.env == {"A": "b"} and shell.run == "ruff ."
    for spec in specs.values():  # frozen: read by attribute, never changed
        first = dataclasses.fields(spec)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, first, "changed")


class Row(NamedTuple):
    step_id: str
    kind: str
    fields_json: str | None


class Bad(NamedTuple):
    id: str
    kind: str
    fields: Any
    message: str


BAD = [
    Bad("unknown-kind", "deploy", {}, "step s: unknown step kind 'deploy'"),
    Bad("missing-field", "session", {"cwd": "/w"}, "step s (session): field 'name' is missing"),
    Bad("wrong-type", "check", {"commands": "pytest", "cwd": "/w"}, "field 'commands' must be a list of strings"),
    Bad("negative-timeout", "agent", {"session": "s", "cwd": "/w", "command": "x", "timeout_seconds": -1},
        "field 'timeout_seconds' must be a whole number of seconds >= 0"),
    Bad("not-json", "gate", "{not json", "step s: its recorded fields are not JSON"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_a_step_that_does_not_fit_its_kind_is_refused_by_name(case: Bad) -> None:
    text = case.fields if isinstance(case.fields, str) else json.dumps(case.fields)
    with pytest.raises(StepDecodeError) as caught:
        spec_of(Row("s", case.kind, text))
    assert case.message in caught.value.message
    assert caught.value.exit_code == 1


def test_fields_of_older_runs_decode_with_defaults() -> None:
    agent = spec_of(Row("agent:T-1:a", "agent", json.dumps({"session": "p-T-1-a", "cwd": "/w", "command": "x"})))
    assert isinstance(agent, AgentStep)
    assert (agent.cli, agent.permissions, agent.requires, agent.timeout_seconds, agent.env) == (
        None, "workspace", (), 0, {})
    close = spec_of(Row("close:T-1", "close", None))
    assert isinstance(close, CloseStep) and (close.merge, close.delete_branch) == ("merge", True)
