"""The run, step, agent and ticket state machines (DESIGN §5) and the one check every write goes through.

Additions to the DESIGN tables, on purpose:
- step ``done → pending`` and ``skipped → pending``: a step whose definition changed after it finished (or
  was skipped) is re-run; ``apply`` resets it to pending.
- agent ``stopped → running`` (resume a stopped agent) and ``failed → running`` (restart after the agent
  command failed); both start a new attempt (``StateStore.new_attempt``).

A self-transition (``from == to``) is always allowed and is a no-op: nothing is written or audited.
"""

from __future__ import annotations

from collections.abc import Mapping

from metawsm.errors import StateError

RUN_STATES = (
    "created", "planning", "running", "awaiting_guidance", "paused", "failed",
    "stopping", "stopped", "complete", "closing", "closed", "ended",
)
STEP_STATES = ("pending", "running", "done", "failed", "skipped")
AGENT_STATES = ("pending", "running", "idle", "stalled", "dead", "stopping", "stopped", "failed")
TICKET_STATES = ("open", "working", "ready", "in_review", "closing", "merged", "failed", "abandoned")

_RUN_MOVES: dict[str, frozenset[str]] = {
    "created": frozenset({"planning"}),
    "planning": frozenset({"running", "paused", "failed", "stopping"}),
    "running": frozenset({"awaiting_guidance", "paused", "failed", "complete", "stopping"}),
    "awaiting_guidance": frozenset({"running", "failed", "stopping"}),
    "paused": frozenset({"running", "stopping"}),
    "failed": frozenset({"running", "stopping"}),
    "stopping": frozenset({"stopped"}),
    "stopped": frozenset({"running"}),
    "complete": frozenset({"closing", "running"}),
    "closing": frozenset({"closed", "failed", "running", "complete"}),
    "closed": frozenset(),
    "ended": frozenset(),
}
# Any run not yet over may end (`metawsm cleanup`) or close (its every ticket merged or abandoned).
RUN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    k: v | {"ended", "closed"} if k not in ("closed", "ended") else v for k, v in _RUN_MOVES.items()
}

STEP_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"running", "skipped"}),
    "running": frozenset({"done", "failed"}),
    "failed": frozenset({"running", "skipped"}),
    "done": frozenset({"pending"}),  # definition changed: re-run
    "skipped": frozenset({"pending"}),  # definition changed / step back in the plan: re-run
}

AGENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"running", "stopped"}),
    "running": frozenset({"idle", "stalled", "dead", "stopping", "failed"}),
    "idle": frozenset({"running", "stalled", "dead", "stopping", "failed"}),
    "stalled": frozenset({"running", "dead", "stopping"}),
    "stopping": frozenset({"stopped"}),
    "dead": frozenset({"running"}),  # restart
    "stopped": frozenset({"running"}),  # resume (new attempt)
    "failed": frozenset({"running"}),  # restart (new attempt)
}

#: A ticket's lifecycle, per repository and across runs (state.db lives in the repository). `ready`: its gate
#: passed; `in_review`: its pull request is open (`metawsm pr`, close.mode pr) until `metawsm pr --sync` sees it
#: merged (`merged`) or closed unmerged (back to `ready`); `closing`: close recorded its intent and is merging;
#: `merged` and `abandoned` are remembered by `plan`/`apply` until `metawsm reopen` moves them back to `open`.
TICKET_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"working", "abandoned"}),
    "working": frozenset({"ready", "failed", "open", "abandoned"}),
    "ready": frozenset({"in_review", "closing", "working", "failed", "abandoned"}),
    "in_review": frozenset({"merged", "ready", "closing", "working", "open", "abandoned"}),
    "closing": frozenset({"merged", "ready", "failed", "abandoned"}),
    "failed": frozenset({"working", "abandoned"}),
    "merged": frozenset({"open"}),  # reopen
    "abandoned": frozenset({"open"}),  # reopen
}

MACHINES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "run": RUN_TRANSITIONS,
    "step": STEP_TRANSITIONS,
    "agent": AGENT_TRANSITIONS,
    "ticket": TICKET_TRANSITIONS,
}

#: Run statuses that end a run for good: ``closed`` (every ticket merged or abandoned) and ``ended``
#: (`metawsm cleanup`). Every other status is "the plan's active run" — a failed or stopped run included,
#: so editing and applying again continues the SAME run. At most one active run per plan, enforced by a
#: unique index (see state/db.py).
ENDED_RUN_STATES = frozenset({"closed", "ended"})
ACTIVE_RUN_STATES = frozenset(set(RUN_STATES) - ENDED_RUN_STATES)
#: Run statuses that stamp ``finished_at``.
FINISHED_RUN_STATES = frozenset({"complete", "failed", "stopped", "closed", "ended"})
#: Ticket statuses `plan` and `apply` leave alone (converged) until `metawsm reopen`.
SETTLED_TICKET_STATES = frozenset({"merged", "abandoned"})
FINISHED_STEP_STATES = frozenset({"done", "failed", "skipped"})


def can_transition(entity: str, from_state: str, to_state: str) -> bool:
    table = MACHINES[entity]
    if to_state not in table:
        return False
    return from_state == to_state or to_state in table.get(from_state, frozenset())


def check_transition(entity: str, entity_id: str, from_state: str, to_state: str) -> None:
    """Raise StateError unless ``entity`` may move from ``from_state`` to ``to_state``."""
    if entity not in MACHINES:
        raise StateError(f"unknown entity kind {entity!r}")
    table = MACHINES[entity]
    if to_state not in table:
        raise StateError(
            f"{entity} {entity_id}: unknown state {to_state!r}",
            hint=f"{entity} states are: {', '.join(table)}",
        )
    if not can_transition(entity, from_state, to_state):
        allowed = ", ".join(sorted(table.get(from_state, ()))) or "none"
        raise StateError(
            f"illegal {entity} transition for {entity_id}: {from_state} -> {to_state}",
            hint=f"from {from_state} a {entity} may go to: {allowed}",
        )
