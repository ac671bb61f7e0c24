"""Table-driven schema cases: each document is accepted, or refused with the expected key path."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from metawsm.config import schemas


class Case(NamedTuple):
    name: str
    kind: str
    doc: dict[str, Any]
    error_path: str | None  # None: valid


CASES = [
    Case("ticket-minimal", "ticket", {"id": "ABC-1", "title": "t"}, None),
    Case("ticket-full", "ticket", {"id": "AB2-x-9", "title": "t", "goal": "g", "done_criteria": ["a"],
                                   "repos": ["self", "api"], "labels": ["l"], "priority": "high",
                                   "vars": {"k": 1}}, None),
    Case("ticket-lowercase-id", "ticket", {"id": "abc-1", "title": "t"}, "id"),
    Case("ticket-id-with-dot", "ticket", {"id": "ABC-1.2", "title": "t"}, "id"),
    Case("ticket-id-with-slash", "ticket", {"id": "ABC-1/x", "title": "t"}, "id"),
    Case("ticket-id-traversal", "ticket", {"id": "../ABC-1", "title": "t"}, "id"),
    Case("ticket-missing-title", "ticket", {"id": "ABC-1"}, ""),
    Case("ticket-empty-title", "ticket", {"id": "ABC-1", "title": ""}, "title"),
    Case("ticket-unknown-key", "ticket", {"id": "ABC-1", "title": "t", "titel": "x"}, "titel"),
    Case("ticket-bad-priority", "ticket", {"id": "ABC-1", "title": "t", "priority": "p1"}, "priority"),
    Case("ticket-empty-repos", "ticket", {"id": "ABC-1", "title": "t", "repos": []}, "repos"),
    Case("ticket-criteria-not-list", "ticket", {"id": "ABC-1", "title": "t", "done_criteria": "x"},
         "done_criteria"),
    Case("plan-minimal", "plan", {"name": "p", "tickets": ["A-1"], "agents": [{"name": "a", "profile": "codex"}]},
         None),
    Case("plan-bad-name", "plan", {"name": "my plan", "tickets": ["A-1"],
                                   "agents": [{"name": "a", "profile": "codex"}]}, "name"),
    Case("plan-agent-name-dot", "plan", {"name": "p", "tickets": ["A-1"],
                                         "agents": [{"name": "a.b", "profile": "codex"}]}, "agents[0].name"),
    Case("plan-agent-name-colon", "plan", {"name": "p", "tickets": ["A-1"],
                                           "agents": [{"name": "a:b", "profile": "codex"}]}, "agents[0].name"),
    Case("plan-no-agents", "plan", {"name": "p", "tickets": ["A-1"], "agents": []}, "agents"),
    Case("plan-no-tickets", "plan", {"name": "p", "tickets": [], "agents": [{"name": "a", "profile": "x"}]},
         "tickets"),
    Case("plan-step-bad-for-each", "plan", {"name": "p", "tickets": ["A-1"],
                                            "agents": [{"name": "a", "profile": "x"}],
                                            "steps": [{"id": "s", "run": "x", "for_each": "agents"}]},
         "steps[0].for_each"),
    Case("plan-step-negative-retries", "plan", {"name": "p", "tickets": ["A-1"],
                                                "agents": [{"name": "a", "profile": "x"}],
                                                "steps": [{"id": "s", "run": "x", "retries": -1}]},
         "steps[0].retries"),
    Case("plan-env-bad-name", "plan", {"name": "p", "tickets": ["A-1"],
                                       "agents": [{"name": "a", "profile": "x", "env": {"1X": "v"}}]},
         "agents[0].env.1X"),
    Case("policy-empty", "policy", {}, None),
    Case("policy-full-close", "policy", {"close": {"required_checks": ["clean_tree", {"name": "lint", "run": "x"}],
                                                   "merge": "squash"}}, None),
    Case("policy-bad-merge", "policy", {"close": {"merge": "rebase"}}, "close.merge"),
    Case("policy-bad-check", "policy", {"close": {"required_checks": ["clean"]}}, "close.required_checks[0]"),
    Case("policy-negative-budget", "policy", {"operator": {"restart_budget": -1}}, "operator.restart_budget"),
    Case("policy-zero-parallel", "policy", {"execution": {"max_parallel": 0}}, "execution.max_parallel"),
    Case("policy-llm-mode", "policy", {"operator": {"llm": {"mode": "manual"}}}, "operator.llm.mode"),
    Case("policy-socket-name", "policy", {"tmux": {"socket_name": "a b"}}, "tmux.socket_name"),
    Case("policy-pattern-without-agent", "policy", {"tmux": {"session_pattern": "{ticket}"}},
         "tmux.session_pattern"),
    Case("policy-repo-self", "policy", {"repos": {"self": {"path": "."}}}, "repos.self"),
    Case("policy-repo-no-path", "policy", {"repos": {"api": {}}}, "repos.api"),
    Case("policy-profile", "policy", {"agent_profiles": {"mine": {"command": "x {{ prompt | shquote }}"}}}, None),
    Case("policy-profile-no-command", "policy", {"agent_profiles": {"mine": {"env": {}}}}, "agent_profiles.mine"),
    Case("policy-unknown-top", "policy", {"workspaces": {}}, "workspaces"),
    Case("policy-fsync", "policy", {"forum": {"fsync": "never"}}, "forum.fsync"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_schema_case(case: Case) -> None:
    import yaml

    text = yaml.safe_dump(case.doc, sort_keys=False)
    diags = schemas.diagnostics(case.kind, case.doc, f"{case.kind}.yaml", text)
    assert schemas.is_valid(case.kind, case.doc) is (case.error_path is None)
    if case.error_path is None:
        assert diags == []
    else:
        assert case.error_path in [d.keypath for d in diags], diags
        assert all(d.line >= 1 for d in diags)


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_schema_is_well_formed(kind: str) -> None:
    from jsonschema import Draft202012Validator

    schema = schemas.load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"/{kind}.json")
    assert schema["additionalProperties"] is False

    def walk(node: dict[str, Any], where: str) -> None:
        node = schemas.resolve(node, schema)
        for name, sub in node.get("properties", {}).items():
            sub_r = schemas.resolve(sub, schema)
            assert sub_r.get("description"), f"{kind}: {where}{name} has no description"
            if sub_r.get("type") == "object" and "properties" in sub_r:
                assert sub_r.get("additionalProperties") is False, f"{where}{name} allows unknown keys"
                walk(sub_r, f"{where}{name}.")
            for key in ("items", "additionalProperties"):
                if isinstance(sub_r.get(key), dict):
                    walk(sub_r[key], f"{where}{name}[].")

    walk(schema, "")


def test_every_policy_key_has_a_default() -> None:
    schema = schemas.load_schema("policy")

    def walk(node: dict[str, Any], where: str) -> None:
        for name, sub in node.get("properties", {}).items():
            if name == "$schema":
                continue
            sub_r = schemas.resolve(sub, schema)
            assert "default" in sub_r, f"policy key {where}{name} has no default"
            if "properties" in sub_r:
                walk(sub_r, f"{where}{name}.")

    walk(schema, "")


def test_defaults_fill_nested_blocks() -> None:
    full = schemas.apply_defaults("policy", {"health": {"idle_seconds": 10}})
    assert full["health"] == {"idle_seconds": 10, "activity_stalled_seconds": 900, "progress_stalled_seconds": 1200}
    assert full["workspace"]["setup"] == {"copy": [], "symlink": [], "commands": []}
    assert set(full["agent_profiles"]) == {"shell", "codex", "claude"}
