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
    RepoWorktree,
    SessionStep,
    ShellStep,
    StepDecodeError,
    WorkspaceStep,
    decode,
    encode,
    spec_of,
    typed,
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


def test_the_planner_builds_records_whose_encoding_is_the_recorded_fields(render: Callable[..., StepGraph]) -> None:
    """Round trip, per rendered step: record → fields (what is hashed and stored) → record, unchanged."""
    graph = render(PLAN)
    for step in graph.steps:
        assert encode(step.spec) == dict(step.fields), step.id
        assert json.dumps(encode(step.spec)) == json.dumps(dict(step.fields)), step.id  # same key order: same hash
        stored = step.stored_json()
        assert stored == json.dumps(dict(step.fields), sort_keys=True, ensure_ascii=False)
        assert spec_of(Row(step.id, step.kind, stored)) == step.spec, step.id
        again = StepGraph.from_json(json.loads(json.dumps(graph.to_json()))).by_id[step.id]  # a saved plan
        assert again.spec == step.spec and again.definition_hash == step.definition_hash


class Golden(NamedTuple):
    spec: Any
    text: str  # the fields' JSON as the planner wrote it before records existed (hashed in that order)


GOLDEN = [
    Golden(WorkspaceStep("/w", "metawsm/A-1", "main", {"self": RepoWorktree("/w", "/r", "main")}, ("a",), (), ("make",)),
           '{"path": "/w", "branch": "metawsm/A-1", "base_branch": "main", "repos": {"self": {"path": "/w", '
           '"repo_root": "/r", "base_branch": "main"}}, "setup": {"copy": ["a"], "symlink": [], "commands": ["make"]}}'),
    Golden(SessionStep("s", "/w", {"METAWSM_AGENT": "a"}), '{"name": "s", "cwd": "/w", "env": {"METAWSM_AGENT": "a"}}'),
    Golden(AgentStep("s", "/w", "codex", "codex", "p", {"K": "v"}, ("codex",), "codex", "interactive", "workspace",
                     ("/r/.git",), 30, "/m.json"),
           '{"profile": "codex", "prompt": "p", "command": "codex", "env": {"K": "v"}, "requires": ["codex"], '
           '"cli": "codex", "mode": "interactive", "permissions": "workspace", "writable_dirs": ["/r/.git"], '
           '"mcp_config": "/m.json", "session": "s", "cwd": "/w", "timeout_seconds": 30}'),
    Golden(CheckStep(("pytest",), "/w"), '{"commands": ["pytest"], "cwd": "/w"}'),
    Golden(GateStep(("clean_tree",), ("*.pem",)), '{"checks": ["clean_tree"], "forbidden_file_patterns": ["*.pem"]}'),
    Golden(CloseStep("squash", False), '{"merge": "squash", "delete_branch": false}'),
    Golden(ShellStep("make", "/w", True, {"A": "b"}), '{"run": "make", "tmux": true, "cwd": "/w", "env": {"A": "b"}}'),
]


@pytest.mark.parametrize("case", GOLDEN, ids=[c.spec.kind for c in GOLDEN])
def test_each_record_encodes_to_the_fields_recorded_before_records(case: Golden) -> None:
    """Definition hashes and state.db rows of existing runs stay valid: same keys, same order, same values."""
    assert json.dumps(encode(case.spec)) == case.text
    assert decode(case.spec.kind, json.loads(case.text)) == case.spec
    row = Row("s", case.spec.kind, json.dumps(json.loads(case.text), sort_keys=True))  # as state.db holds it
    assert typed(row, type(case.spec)) == case.spec


def test_an_agent_step_recorded_before_newer_fields_still_decodes() -> None:
    """A run recorded by an older metawsm (no cli/mode/permissions/writable_dirs/mcp_config) still loads."""
    old = Row("agent:A-1:impl", "agent", json.dumps({"command": "sh run.sh", "cwd": "/w", "env": {},
                                                     "profile": "shell", "prompt": "", "session": "p-A-1-impl"}))
    spec = typed(old, AgentStep)
    assert (spec.command, spec.session, spec.cli, spec.permissions, spec.mcp_config) == (
        "sh run.sh", "p-A-1-impl", None, "workspace", None)
    with pytest.raises(StepDecodeError, match="a agent step, not a workspace step"):
        typed(old, WorkspaceStep)


def test_a_workspaces_primary_repository_is_self_then_the_first_by_name() -> None:
    a, b, me = RepoWorktree("/a", "/ra", "main"), RepoWorktree("/b", "/rb", "dev"), RepoWorktree("/s", "/rs", "main")
    assert WorkspaceStep("/w", "x", "main", {"b": b, "a": a}).primary == a
    ws = WorkspaceStep("/w", "x", "main", {"b": b, "self": me, "a": a})
    assert ws.primary == me and [n for n, _ in ws.repos_in_order()] == ["self", "a", "b"]
