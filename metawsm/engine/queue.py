"""Which agents of a run wait to start, and why: the queue `status` shows.

An agent waits in the queue when its session step is running with a note (its backend had no free slot: every
ssh host full, say — the step tries again on each reconcile and holds no `execution.max_parallel` slot meanwhile),
or when its session or agent step is ready (every need done) but not started because the run's steps already
fill `execution.max_parallel` (reconcile starts ready steps up to that limit, in the plan's order)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metawsm.state.models import Run, Step

SATISFIED = frozenset({"done", "skipped"})
RECONCILED = frozenset({"running", "awaiting_guidance"})  # runs whose ready steps reconcile starts
MAX_PARALLEL = "waiting for a free slot (execution.max_parallel steps of this run are running)"


def queue_reasons(run: Run, steps: Iterable[Step]) -> dict[tuple[str, str], str]:
    """(ticket, agent) → why that agent waits to start; agents that do not wait are left out."""
    rows = {s.step_id: s for s in steps}
    found: dict[tuple[str, str], str] = {}
    ready_ids: list[str] = []
    for step in rows.values():
        if step.kind == "session" and step.ticket and step.agent:
            if step.status == "running" and step.note:
                found[(step.ticket, step.agent)] = step.note.removeprefix("queued: ")
            elif step.status == "pending":
                ready_ids.append(step.step_id)
        elif step.kind == "agent" and step.ticket and step.agent and step.status == "pending" \
                and rows.get(f"session:{step.ticket}:{step.agent}") is not None \
                and rows[f"session:{step.ticket}:{step.agent}"].status in SATISFIED:
            ready_ids.append(step.step_id)
    if not ready_ids or run.status not in RECONCILED:
        return found
    needs = {s["id"]: s.get("needs", ()) for s in json.loads(run.graph_json or "{}").get("steps", ())}
    for step_id in ready_ids:
        if step_id in needs and all(rows[n].status in SATISFIED for n in needs[step_id] if n in rows):
            step = rows[step_id]
            found.setdefault((step.ticket or "", step.agent or ""), MAX_PARALLEL)
    return found
