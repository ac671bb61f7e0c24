"""The step graph: chain, order, hashes, determinism, diff, JSON round trip."""

from __future__ import annotations

import json
from typing import Any

from metawsm.plan import StepGraph, has_changes
from metawsm.plan.diff import diff
from metawsm.plan.jsonfmt import encode

TWO_AGENTS = """\
name: p
tickets: [ABC-2, ABC-1]
agents:
  - {name: impl, profile: codex, prompt: "Build {{ ticket.id }}"}
  - {name: docs, profile: shell, run: "echo {{ ticket.id }}"}
checks: [pytest -q]
steps:
  - {id: "lint:{{ ticket.id }}", needs: ["check:{{ ticket.id }}"], run: ruff check .}
  - {id: report, for_each: none, needs: [gate:ABC-1, gate:ABC-2], run: echo done, cwd: repo}
auto_close: true
"""


def test_chain_and_stable_topological_order(files: Any) -> None:
    graph = files.render(TWO_AGENTS)
    ids = [s.id for s in graph.steps]
    assert ids == [
        "workspace:ABC-1", "session:ABC-1:docs", "agent:ABC-1:docs", "session:ABC-1:impl", "agent:ABC-1:impl",
        "check:ABC-1", "gate:ABC-1", "close:ABC-1", "lint:ABC-1",
        "workspace:ABC-2", "session:ABC-2:docs", "agent:ABC-2:docs", "session:ABC-2:impl", "agent:ABC-2:impl",
        "check:ABC-2", "gate:ABC-2", "close:ABC-2", "lint:ABC-2", "report",
    ]
    by = graph.by_id
    assert by["check:ABC-1"].needs == ("agent:ABC-1:impl", "agent:ABC-1:docs")
    assert by["gate:ABC-1"].needs == ("check:ABC-1",)
    assert by["close:ABC-1"].fields == {"merge": "merge", "delete_branch": True}
    assert by["lint:ABC-1"].needs == ("check:ABC-1", "workspace:ABC-1")
    assert by["report"].ticket is None and by["report"].fields["cwd"] == str(files.root)
    assert by["gate:ABC-1"].fields["checks"] == ["clean_tree", "completion", "validation", "forbidden_files"]
    assert by["agent:ABC-1:impl"].retries == 1 and by["session:ABC-1:impl"].fields["name"] == "p-ABC-1-impl"
    seen: set[str] = set()
    for step in graph.steps:  # every need comes first
        assert set(step.needs) <= seen
        seen.add(step.id)


def test_without_checks_the_gate_needs_every_agent(files: Any) -> None:
    graph = files.render("name: p\ntickets: [ABC-1]\nagents:\n  - {name: a, profile: shell, run: x}\n"
                         "  - {name: b, profile: shell, run: y}\n")
    assert "check:ABC-1" not in graph.by_id and "close:ABC-1" not in graph.by_id
    assert graph.by_id["gate:ABC-1"].needs == ("agent:ABC-1:a", "agent:ABC-1:b")


def test_render_twice_gives_identical_bytes(files: Any) -> None:
    first = encode(files.render(TWO_AGENTS))
    second = encode(files.render(TWO_AGENTS))
    assert first == second
    assert json.loads(first)["steps"][0]["id"] == "workspace:ABC-1"


def test_json_round_trip(files: Any) -> None:
    graph = files.render(TWO_AGENTS)
    back = StepGraph.from_json(json.loads(encode(graph)))
    assert back == graph
    assert StepGraph.from_json(graph.to_json()) == graph
    assert encode(back) == encode(graph)


def test_editing_one_prompt_changes_exactly_one_hash(files: Any) -> None:
    before = files.render(TWO_AGENTS)
    after = files.render(TWO_AGENTS.replace('"Build {{ ticket.id }}"',
                                            '"Build {{ ticket.id }}{% if ticket.id == \'ABC-2\' %}!{% endif %}"'))
    changed = [s.id for s in after.steps if s.definition_hash != before.by_id[s.id].definition_hash]
    assert changed == ["agent:ABC-2:impl"]
    changes = diff(before, after)
    assert [(c.id, c.mark, c.changed_fields) for c in changes if c.mark != "="] == [
        ("agent:ABC-2:impl", "~", ("fields.command", "fields.prompt"))]
    assert has_changes(changes)


def test_diff_marks(files: Any) -> None:
    old = files.render(TWO_AGENTS)
    assert {c.mark for c in diff(None, old)} == {"+"}
    assert not has_changes(diff(old, old))
    new = files.render(TWO_AGENTS.replace("auto_close: true", "auto_close: false")
                       .replace("run: ruff check .", "run: ruff check . --fix"))
    marks = {c.id: c.mark for c in diff(old, new)}
    assert marks["close:ABC-1"] == "-" and marks["close:ABC-2"] == "-"
    assert marks["lint:ABC-1"] == "~" and marks["workspace:ABC-1"] == "="
    assert [c.id for c in diff(old, new)][-2:] == ["close:ABC-1", "close:ABC-2"]


def test_run_id_reaches_session_pattern(files: Any) -> None:
    files.policy('tmux: {session_pattern: "mw.{run}.{agent}.{ticket}"}\n')
    graph = files.render(TWO_AGENTS, run_id="r:42")
    assert graph.by_id["session:ABC-1:impl"].fields["name"] == "mw-r-42-impl-ABC-1"


def test_one_line_json_matches_the_encoder(files: Any) -> None:
    from metawsm.plan.diff import StepChange
    from metawsm.plan.graph import encode_json

    graph = files.render(TWO_AGENTS)
    assert all(s.json_text() == encode_json(s.to_json()) for s in graph.steps)
    change = StepChange('a"é\n', "~", ("fields.x", "needs"))
    assert change.json_text() == encode_json(change.to_json())
