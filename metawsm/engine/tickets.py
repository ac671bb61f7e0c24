"""The one owner of ticket transitions, and of the run status derived from its tickets.

A ticket's state is recorded per repository across runs (state/tickets.py). While a run works on it, the state
follows the ticket's steps in that run: `working` while they run (or wait), `ready` once `gate:T` passed,
`failed` when one of them failed with no retry left. `in_review` belongs to the pull request (engine/prsync.py:
`metawsm pr` moves a ready ticket there, `pr --sync` on to `merged` or back to `ready`), `closing` and `merged` to
close (engine/close.py), `abandoned` and reopening to the person; no step ever moves a ticket out of those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from metawsm.errors import NotFoundError
from metawsm.state.machines import ACTIVE_RUN_STATES, SETTLED_TICKET_STATES

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.plan.graph import StepGraph
    from metawsm.state.models import Run, Step
    from metawsm.state.tickets import TicketState

SATISFIED = frozenset({"done", "skipped"})
OWNED_ELSEWHERE = frozenset({"in_review", "closing", "merged", "abandoned"})  # never moved by a run's steps

# How to walk from one ticket state to another through legal single steps.
_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("open", "ready"): ("working", "ready"), ("open", "failed"): ("working", "failed"),
    ("failed", "ready"): ("working", "ready"), ("failed", "open"): ("working", "open"),
    ("ready", "open"): ("working", "open"), ("closing", "working"): ("ready", "working"),
    ("open", "in_review"): ("working", "ready", "in_review"), ("working", "in_review"): ("ready", "in_review"),
    ("failed", "in_review"): ("working", "ready", "in_review"),
}


def graph_of(run: Run) -> StepGraph:
    from metawsm.plan.graph import StepGraph

    return StepGraph.from_json(json.loads(run.graph_json or "{}"))


def walk(eng: Engine, ticket: str, to: str, reason: str, *, run: Run | None = None) -> TicketState:
    """Move `ticket` to `to` through the legal states in between (nothing written when already there)."""
    current = eng.store.get_ticket(ticket)
    status = current.status if current else "open"
    result = current
    for state in _PATHS.get((status, to), (to,)):  # a self-move only updates the reason and the run
        result = eng.store.move_ticket(ticket, state, reason, run_id=run.run_id if run else None,
                                       plan_name=run.plan_name if run else None)
    assert result is not None
    return result


def derive(steps: Iterable[Step]) -> tuple[str, str]:
    """A ticket's state from its steps in a run, with the reason a person reads."""
    rows = list(steps)
    failed = [s for s in rows if s.status == "failed" and s.next_attempt_at is None]
    if failed:
        return "failed", f"{failed[0].step_id}: {failed[0].last_error or 'failed'}"
    gate = next((s for s in rows if s.kind == "gate"), None)
    if gate is not None and gate.status == "done":
        return "ready", "gate passed"
    running = [s.step_id for s in rows if s.status == "running"]
    return "working", ("running " + ", ".join(running)) if running else "waiting for its steps"


def effective(eng: Engine, run: Run, tickets: Iterable[str]) -> dict[str, tuple[str, str, TicketState | None]]:
    """ticket -> (state, reason, record) for display and selection: the recorded state, or — for a ticket with
    no record yet (a run from before ticket states were recorded) — the state its steps in `run` give, without
    writing anything."""
    wanted = list(tickets)
    rows = {t.ticket: t for t in eng.store.list_tickets(wanted)} if wanted else {}
    missing = [t for t in wanted if t not in rows]
    steps: dict[str, list[Step]] = {}
    if missing:
        for s in eng.store.list_steps(run.run_id):
            if s.ticket in missing:
                steps.setdefault(s.ticket, []).append(s)
    out: dict[str, tuple[str, str, TicketState | None]] = {}
    for t in wanted:
        row = rows.get(t)
        if row is not None:
            out[t] = (row.status, row.reason, row)
        elif t in steps:
            out[t] = (*derive(steps[t]), None)
        else:
            out[t] = ("open", "", None)
    return out


def owner_is_elsewhere(eng: Engine, state: TicketState | None, run: Run) -> bool:
    """Whether another active run works on this ticket (then this run's steps do not move it)."""
    if state is None or state.run_id in (None, run.run_id) or state.status == "open":
        return False
    try:
        other = eng.store.get_run(state.run_id)
    except NotFoundError:  # a forgotten run owns nothing
        return False
    return other.status in ACTIVE_RUN_STATES


def sync_tickets(eng: Engine, run: Run, steps: Iterable[Step] | None = None) -> dict[str, str]:
    """Bring the recorded state of every ticket of `run` in line with its steps; returns ticket -> state."""
    rows = list(steps) if steps is not None else eng.store.list_steps(run.run_id)
    by_ticket: dict[str, list[Step]] = {}
    for s in rows:
        if s.ticket:
            by_ticket.setdefault(s.ticket, []).append(s)
    states = {t.ticket: t for t in eng.store.list_tickets(by_ticket)}
    out: dict[str, str] = {}
    for ticket, ticket_steps in by_ticket.items():
        current = states.get(ticket)
        if current is not None and (current.status in OWNED_ELSEWHERE or owner_is_elsewhere(eng, current, run)):
            out[ticket] = current.status
            continue
        if all(s.status == "skipped" for s in ticket_steps):  # removed from the plan
            out[ticket] = current.status if current else "open"
            continue
        target, reason = derive(ticket_steps)
        if current is None or current.status != target or current.run_id != run.run_id or current.reason != reason:
            walk(eng, ticket, target, reason, run=run)
        out[ticket] = target
    return out


def settled(eng: Engine, tickets: Iterable[str]) -> dict[str, str]:
    """Of `tickets`, those merged or abandoned (remembered across runs): ticket -> state."""
    if not eng.has_state():
        return {}
    return {t.ticket: t.status for t in eng.store.list_tickets(list(tickets), statuses=SETTLED_TICKET_STATES)}


def graph_hash_of(pairs: Iterable[tuple[str, str]]) -> str:
    """The plan hash a run records: sha256 over "id definition_hash" lines (apply.graph_hash uses this too)."""
    return hashlib.sha256("\n".join(f"{sid} {h}" for sid, h in pairs).encode()).hexdigest()


def drop_from_graph(eng: Engine, run: Run, ticket: str) -> Run:
    """A merged (or abandoned) ticket leaves its run's recorded graph: `plan` then diffs a reopened ticket's steps
    as new, and `apply` runs them again. Its step rows stay, as the record of what ran. (Works on the recorded
    JSON directly: close stays clear of the planner's imports.)"""
    data = json.loads(run.graph_json or "{}")
    steps = data.get("steps", [])
    gone = {s["id"] for s in steps if s.get("ticket") == ticket}
    if not gone:
        return run
    kept = [dict(s, needs=[n for n in s.get("needs", []) if n not in gone]) for s in steps if s["id"] not in gone]
    text = json.dumps(dict(data, steps=kept), sort_keys=True, ensure_ascii=False)
    return eng.store.update_run_graph(run.run_id, graph_hash_of((s["id"], s["definition_hash"]) for s in kept), text)


def close_run_if_done(eng: Engine, run: Run) -> Run:
    """A run whose every ticket is merged or abandoned is over: it moves to `closed`."""
    tickets = sorted({s.ticket for s in eng.store.list_steps(run.run_id) if s.ticket})
    if run.status in ("closed", "ended") or not tickets:
        return run
    if len(settled(eng, tickets)) == len(tickets):
        return eng.store.transition_run(run.run_id, "closed", "every ticket merged or abandoned")
    return run


def run_status(rows: Mapping[str, Step], graph: StepGraph, *, waiting: bool) -> str:
    """A run's status from its steps: it works while any step runs, waits for a retry, or can still start;
    it is failed only once nothing can move (a failed ticket never stops its siblings); else complete."""
    blocked: set[str] = set()
    progress = False
    for step in graph.steps:  # topological order: needs come first
        row = rows[step.id]
        if row.status == "failed":
            if row.next_attempt_at is not None:
                progress = True
            else:
                blocked.add(step.id)
        elif row.status == "running":
            progress = True
        elif row.status == "pending":
            if any(n in blocked for n in step.needs):
                blocked.add(step.id)
            else:
                progress = True
    if progress:
        return "awaiting_guidance" if waiting else "running"
    return "failed" if blocked else "complete"
