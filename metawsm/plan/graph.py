"""The step graph: immutable steps with deterministic ids, needs and definition hashes.

`assemble()` turns drafted steps into a `StepGraph`, reporting every duplicate id, unknown need
(with a did-you-mean) and dependency cycle (naming its steps in order) at once, located in the
plan file. Steps come out in a stable topological order: Kahn's algorithm, ties broken by id.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from metawsm.plan.render import Location
from metawsm.plan.steps import StepSpec, decode, encode, stored_json

KINDS = ("workspace", "session", "agent", "check", "gate", "close", "shell")
HASH_VERSION = 1
# One JSON dialect for hashing and for output: UTF-8, ", " and ": " separators, keys in the order
# the planner builds them (fixed by code, so deterministic; HASH_VERSION changes if it ever changes).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=lambda o: o.to_json())


_quote = json.encoder.encode_basestring  # what _JSON uses for strings (ensure_ascii=False)


def _quote_opt(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def encode_json(value: Any) -> str:
    return _JSON.encode(value)


def definition_hash(kind: str, fields: Mapping[str, Any], needs: Iterable[str], retries: int, timeout: int,
                    *, fields_json: str | None = None) -> str:
    """sha256 (hex) of the UTF-8 text `JSON([HASH_VERSION, kind, sorted(needs), retries, timeout])`,
    a newline, then `JSON(fields)`.

    Ids of needed steps are covered, their hashes are not: editing one step never changes the hash
    of the steps that need it."""
    head = _JSON.encode([HASH_VERSION, kind, sorted(needs), retries, timeout])
    body = fields_json if fields_json is not None else _JSON.encode(dict(fields))
    return hashlib.sha256(f"{head}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Step:
    """One node of the graph. `fields` is its typed record's JSON-able encoding (hashed, recorded, saved, diffed
    key by key); code reads the record, `spec`, by attribute."""

    id: str
    kind: str
    ticket: str | None
    agent: str | None
    needs: tuple[str, ...]
    fields: Mapping[str, Any]
    retries: int
    timeout: int
    definition_hash: str
    fields_json: str = field(default="", compare=False, repr=False)  # cached JSON of `fields`

    @cached_property
    def spec(self) -> StepSpec:
        """The typed record (decoded from `fields` once; the planner's own record for a rendered step)."""
        return decode(self.kind, self.fields, step_id=self.id)

    def stored_json(self) -> str:
        """`fields` as state.db records them."""
        return stored_json(self.fields)

    def json_text(self) -> str:
        """This step as one line of JSON: the same text as encoding `to_json()` with `encode_json`,
        reusing the fields' JSON computed for the hash."""
        s = _quote
        needs = ", ".join(map(s, self.needs))
        fields = self.fields_json or _JSON.encode(dict(self.fields))
        return (f'{{"id": {s(self.id)}, "kind": {s(self.kind)}, "ticket": {_quote_opt(self.ticket)}, '
                f'"agent": {_quote_opt(self.agent)}, "needs": [{needs}], "fields": {fields}, '
                f'"retries": {int(self.retries)}, "timeout": {int(self.timeout)}, '
                f'"definition_hash": {s(self.definition_hash)}}}')

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "ticket": self.ticket,
            "agent": self.agent,
            "needs": list(self.needs),
            "fields": dict(self.fields),
            "retries": self.retries,
            "timeout": self.timeout,
            "definition_hash": self.definition_hash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        return cls(
            id=data["id"],
            kind=data["kind"],
            ticket=data.get("ticket"),
            agent=data.get("agent"),
            needs=tuple(data.get("needs", ())),
            fields=MappingProxyType(dict(data.get("fields", {}))),
            retries=int(data.get("retries", 0)),
            timeout=int(data.get("timeout", 0)),
            definition_hash=data["definition_hash"],
        )


@dataclass(frozen=True)
class StepGraph:
    """A rendered plan: its steps in stable topological order."""

    plan_name: str
    steps: tuple[Step, ...]
    source: str = ""

    @cached_property
    def by_id(self) -> Mapping[str, Step]:
        return MappingProxyType({s.id: s for s in self.steps})

    @cached_property
    def tickets(self) -> tuple[str, ...]:
        return tuple(sorted({s.ticket for s in self.steps if s.ticket is not None}))

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "source": self.source, "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepGraph:
        return cls(data["plan"], tuple(Step.from_json(s) for s in data["steps"]), data.get("source", ""))


@dataclass
class Draft:
    """A step before validation, with where its id and each need came from (for diagnostics)."""

    id: str
    ticket: str | None
    agent: str | None
    needs: list[str]
    spec: StepSpec
    retries: int
    timeout: int
    where: Location | None = None
    need_where: list[Location] = field(default_factory=list)
    needs_at: Location | None = None  # the `needs` list itself (cycles are reported there)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def freeze(self) -> Step:
        needs = tuple(dict.fromkeys(self.needs))
        fields = encode(self.spec)
        fields_json = _JSON.encode(fields)
        digest = definition_hash(self.kind, fields, needs, self.retries, self.timeout, fields_json=fields_json)
        step = Step(self.id, self.kind, self.ticket, self.agent, needs, MappingProxyType(fields),
                    self.retries, self.timeout, digest, fields_json)
        step.__dict__["spec"] = self.spec  # the planner's record: nothing to decode
        return step


Problem = tuple[Location, str]


def _topo(steps: Mapping[str, Step]) -> tuple[list[str], set[str]]:
    """Kahn's algorithm with a heap (ties broken by id). Returns the order and the ids left over."""
    indegree = {sid: 0 for sid in steps}
    dependents: dict[str, list[str]] = {sid: [] for sid in steps}
    for step in steps.values():
        for need in step.needs:
            if need in steps:
                indegree[step.id] += 1
                dependents[need].append(step.id)
    ready = [sid for sid, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        sid = heapq.heappop(ready)
        order.append(sid)
        for dep in dependents[sid]:
            indegree[dep] -= 1
            if indegree[dep] == 0:
                heapq.heappush(ready, dep)
    return order, set(steps) - set(order)


def _cycles(steps: Mapping[str, Step], left: set[str]) -> list[list[str]]:
    """Each cycle among the ids Kahn could not order, in execution order, starting at its least id."""
    cycles: list[list[str]] = []
    left = set(left)
    while left:
        path: list[str] = []
        pos: dict[str, int] = {}
        node = min(left)
        while node not in pos:
            pos[node] = len(path)
            path.append(node)
            node = min(n for n in steps[node].needs if n in left)
        loop = path[pos[node]:]  # each entry needs the next one
        loop.reverse()  # execution order: each entry comes before the next
        start = loop.index(min(loop))
        cycles.append(loop[start:] + loop[:start])
        rest = {sid: s for sid, s in steps.items() if sid in left and sid not in loop}
        pruned = {sid: dataclasses.replace(s, needs=tuple(n for n in s.needs if n in rest))
                  for sid, s in rest.items()}
        _, left = _topo(pruned)
    return cycles


def assemble(plan_name: str, drafts: Iterable[Draft], *, source: str = "",
             default_where: Location | None = None) -> tuple[StepGraph | None, list[Problem]]:
    """Validate drafted steps into a graph. Returns (graph or None, every problem found)."""
    fallback = default_where or Location(source, "")
    problems: list[Problem] = []
    steps: dict[str, Step] = {}
    wheres: dict[str, Draft] = {}
    for draft in drafts:
        if draft.id in steps:
            other = wheres[draft.id]
            if other.where == draft.where and other.ticket and draft.ticket:
                also = f" (rendered for both {other.ticket} and {draft.ticket})"
            else:
                also = f" (also defined by {other.where.keypath})" if other.where and other.where.keypath else ""
            hint = " — include {{ ticket.id }} in a per-ticket step's id" if draft.ticket else ""
            problems.append((draft.where or fallback, f"duplicate step id {draft.id!r}{also}{hint}"))
            continue
        steps[draft.id] = draft.freeze()
        wheres[draft.id] = draft
    ids = sorted(steps)
    for sid, draft in wheres.items():
        for i, need in enumerate(draft.needs):
            if need not in steps:
                match = difflib.get_close_matches(need, ids, n=1, cutoff=0.6)
                hint = f" (did you mean {match[0]!r}?)" if match else ""
                where = draft.need_where[i] if i < len(draft.need_where) else (draft.where or fallback)
                problems.append((where, f"step {sid!r} needs unknown step {need!r}{hint}"))
    if problems:
        return None, problems
    order, left = _topo(steps)
    if left:
        for cycle in _cycles(steps, left):
            located = [wheres[sid].needs_at or wheres[sid].where for sid in sorted(cycle)]
            where = next((w for w in located if w is not None), fallback)
            problems.append((where, f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}"))
        return None, problems
    return StepGraph(plan_name, tuple(steps[sid] for sid in order), source), []
