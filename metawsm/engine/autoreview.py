"""Policy `review.auto_iterate`: a reviewer's `changes_requested` verdict starts the ticket's next round.

After a reconcile pass, a ticket whose `gate:T` step failed while one of its reviewers (gate/review.py)
requested changes in its current attempt gets `metawsm iterate T` with the reviewers' notes as feedback —
every agent of the ticket starts a new attempt, the reviewer included, so it reviews the new commits. At most
up to round `review.max_rounds` (round 1 is the agents' first work); past it the ticket stays refused for a
person. One verdict starts one round: a marker file per verdict (created exclusively) keeps two reconciles
running at once from starting two rounds.

The loops that drive runs (`apply --wait`, `watch`, `metawsm reconcile` and the kick, `serve`, `operator`) call
:func:`reconcile_and_iterate`; `reconcile()` itself does not (iterate restarts agents through reconcile, and the
engine keeps no import cycle).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine.kinds.agent_inputs import agent_round, feedback_dir
from metawsm.engine.locking import try_operation
from metawsm.engine.reconcile import ReconcileResult, StepEvent, reconcile
from metawsm.errors import MetawsmError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.engine.iterate import IterateResult

log = logging.getLogger(__name__)


def reconcile_and_iterate(eng: Engine, run_id: str, *, max_parallel: int | None = None) -> ReconcileResult:
    """One reconcile pass, then `auto_iterate` (its rounds reported as `iterate` events of `gate:T`), both under
    the run's lease: another process's pass never sees the refused gate of a round this one is starting (and
    stops waiting on a run that is about to run again)."""
    with try_operation(eng, run_id, "reconcile") as held:
        if not held:
            return ReconcileResult(run_id, eng.store.get_run(run_id).status, busy=True)
        result = reconcile(eng, run_id, max_parallel=max_parallel)
        started = auto_iterate(eng, run_id)
        for it in started:
            result.events.append(StepEvent(f"gate:{it.ticket}", "iterate", f"review round {it.round} started "
                                           "with the reviewer's note as feedback (review.auto_iterate)"))
        if started:
            result.status = eng.store.get_run(run_id).status
    return result


def auto_iterate(eng: Engine, run_id: str) -> list[IterateResult]:
    """Start the next round of every ticket of `run_id` whose reviewer requested changes (see the module doc)."""
    policy = eng.policy.review
    if not policy.auto_iterate:
        return []
    run = eng.store.get_run(run_id)
    if run.status in ("closed", "ended"):
        return []
    failed = [s.ticket for s in eng.store.list_steps(run_id) if s.kind == "gate" and s.status == "failed" and s.ticket]
    if not failed:
        return []
    from metawsm.engine.iterate import iterate
    from metawsm.gate.review import verdicts

    started = []
    for ticket in failed:
        changes = [v for v in verdicts(eng, run_id, ticket) if v.status == "changes_requested"]
        if not changes:
            continue
        state_dir = eng.project.state_dir
        agents = [a.name for a in eng.store.list_agents(run_id) if a.ticket == ticket]
        current = max([1, *(agent_round(state_dir, run_id, ticket, a) for a in agents)])
        if current >= policy.max_rounds:
            continue
        if not _claim(feedback_dir(state_dir, run_id, ticket) / f"auto-{changes[0].sequence}"):
            continue
        feedback = "\n\n".join(f"Reviewer {v.agent} requested changes (at {str(v.sha)[:12]}):\n{v.note}"
                               for v in changes)
        try:
            started.append(iterate(eng, eng.store.get_run(run_id), ticket, feedback))
        except MetawsmError as exc:  # e.g. the ticket was abandoned meanwhile: a person decides
            log.warning("auto_iterate: %s: %s", ticket, exc.message)
    return started


def _claim(marker: Path) -> bool:
    """Create `marker` exclusively: True for the one caller that created it."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return False
    return True
