"""What `metawsm plan` says about a change: a unified diff of every changed field of a step (prompt text
included), and the unchanged steps that run again because a step they need (directly or not) is new or
changed — as apply does (engine/apply.py `_sync_steps`)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from metawsm.plan.diff import ADDED, CHANGED, IN_REVIEW, UNCHANGED, StepChange
from metawsm.plan.graph import Step, StepGraph


def _lines(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False,
                                                           default=str)
    return text.splitlines()


def _value(step: Step, name: str) -> Any:
    if name.startswith("fields."):
        return step.fields.get(name.removeprefix("fields."))
    return getattr(step, name, None)


def field_diffs(old: Step, new: Step, names: Iterable[str]) -> dict[str, str]:
    """{changed field: unified diff of the recorded value against the plan's} for `names`."""
    out: dict[str, str] = {}
    for name in names:
        if name == "definition_hash":
            continue
        lines = difflib.unified_diff(_lines(_value(old, name)), _lines(_value(new, name)),
                                     fromfile=f"{name} (recorded)", tofile=f"{name} (plan)", lineterm="", n=2)
        out[name] = "\n".join(lines)
    return out


def all_field_diffs(changes: Iterable[StepChange], recorded: StepGraph | None,
                    graph: StepGraph) -> dict[str, dict[str, str]]:
    if recorded is None:
        return {}
    old, new = recorded.by_id, graph.by_id
    return {c.id: field_diffs(old[c.id], new[c.id], c.changed_fields)
            for c in changes if c.mark == CHANGED and c.id in old and c.id in new}


def reruns(changes: Iterable[StepChange], graph: StepGraph) -> dict[str, str]:
    """{unchanged step: the new or changed step it needs, directly or through others} — they run again."""
    marks: Mapping[str, StepChange] = {c.id: c for c in changes}
    cause: dict[str, str] = {}
    for step in graph.steps:  # topological order: needs come first
        change = marks.get(step.id)
        if change is None or change.settled not in (None, IN_REVIEW):
            continue
        if change.mark in (ADDED, CHANGED):
            cause[step.id] = step.id
            continue
        if change.mark == UNCHANGED:
            why = next((cause[n] for n in step.needs if n in cause), None)
            if why is not None:
                cause[step.id] = why
    return {sid: why for sid, why in cause.items() if marks[sid].mark == UNCHANGED}
