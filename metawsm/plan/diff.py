"""Compare two step graphs: which steps are added (+), changed (~), removed (-) or unchanged (=).

The engine passes the graph recorded for the plan's run as `old`; with no record every step is new. Steps of a
ticket that is merged or abandoned (`settled`, remembered across runs) are `=` with that word, whatever the
record says: apply leaves them alone until `metawsm reopen`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from metawsm.plan.graph import Step, StepGraph

_quote = json.encoder.encode_basestring
ADDED, CHANGED, REMOVED, UNCHANGED = "+", "~", "-", "="
IN_REVIEW = "in_review"  # a ticket state shown beside unchanged steps, not a converged one
_ATTRS = ("kind", "needs", "retries", "timeout")


@dataclass(frozen=True)
class StepChange:
    id: str
    mark: str
    changed_fields: tuple[str, ...] = ()
    settled: str | None = None  # "merged"/"abandoned": the ticket is converged; "in_review": unchanged, PR open

    def json_text(self) -> str:
        """One line of JSON, as `encode_json(self.to_json())` would write it."""
        fields = ", ".join(map(_quote, self.changed_fields))
        tail = f', "settled": {_quote(self.settled)}' if self.settled else ""
        return f'{{"id": {_quote(self.id)}, "mark": {_quote(self.mark)}, "changed_fields": [{fields}]{tail}}}'

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"id": self.id, "mark": self.mark, "changed_fields": list(self.changed_fields)}
        if self.settled:
            data["settled"] = self.settled
        return data


def changed_fields(old: Step, new: Step) -> tuple[str, ...]:
    """Names of what differs: step attributes (kind, needs, retries, timeout) and `fields` keys."""
    out = [name for name in _ATTRS if getattr(old, name) != getattr(new, name)]
    keys = sorted(set(old.fields) | set(new.fields))
    out += [f"fields.{k}" for k in keys if old.fields.get(k) != new.fields.get(k)]
    return tuple(out)


def diff(old: StepGraph | None, new: StepGraph, settled: Mapping[str, str] | None = None) -> list[StepChange]:
    """One change per step of either graph: new steps in `new`'s order, then removed ones by id. `settled`:
    ticket -> "merged"/"abandoned"; their steps are unchanged, and never listed as removed. A ticket mapped to
    "in_review" (its pull request is open) diffs as usual; its unchanged steps only carry the state for display."""
    before = old.by_id if old is not None else {}
    done = settled or {}
    changes: list[StepChange] = []
    for step in new.steps:
        prev = before.get(step.id)
        state = done.get(step.ticket) if step.ticket is not None else None
        if state is not None and state != IN_REVIEW:
            changes.append(StepChange(step.id, UNCHANGED, settled=state))
        elif prev is None:
            changes.append(StepChange(step.id, ADDED))
        elif prev.definition_hash == step.definition_hash:
            changes.append(StepChange(step.id, UNCHANGED, settled=state))
        else:
            changes.append(StepChange(step.id, CHANGED, changed_fields(prev, step) or ("definition_hash",)))
    if old is not None:
        now = new.by_id
        changes += [StepChange(s.id, REMOVED) for s in sorted(old.steps, key=lambda s: s.id)
                    if s.id not in now and (s.ticket is None or done.get(s.ticket) in (None, IN_REVIEW))]
    return changes


def has_changes(changes: Iterable[StepChange]) -> bool:
    return any(c.mark != UNCHANGED for c in changes)


def summary(changes: Iterable[StepChange]) -> dict[str, int]:
    counts = {"add": 0, "change": 0, "remove": 0, "unchanged": 0}
    names = {ADDED: "add", CHANGED: "change", REMOVED: "remove", UNCHANGED: "unchanged"}
    for c in changes:
        counts[names[c.mark]] += 1
    return counts
