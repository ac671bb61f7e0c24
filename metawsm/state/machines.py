"""The run, step and agent state machines (DESIGN §5) and the one check every write goes through.

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
    "stopping", "stopped", "complete", "closing", "closed",
)
STEP_STATES = ("pending", "running", "done", "failed", "skipped")
AGENT_STATES = ("pending", "running", "idle", "stalled", "dead", "stopping", "stopped", "failed")

RUN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "created": frozenset({"planning"}),
    "planning": frozenset({"running", "paused", "failed", "stopping"}),
    "running": frozenset({"awaiting_guidance", "paused", "failed", "complete", "stopping"}),
    "awaiting_guidance": frozenset({"running", "failed", "stopping"}),
    "paused": frozenset({"running", "stopping"}),
    "failed": frozenset({"running", "stopping"}),
    "stopping": frozenset({"stopped"}),
    "stopped": frozenset({"running"}),
    "complete": frozenset({"closing", "running"}),
    "closing": frozenset({"closed", "failed"}),
    "closed": frozenset(),
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

MACHINES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "run": RUN_TRANSITIONS,
    "step": STEP_TRANSITIONS,
    "agent": AGENT_TRANSITIONS,
}

#: Run statuses that make a run "the plan's active run" (``apply`` reuses it instead of creating one).
#: Only ``closed``, ``stopped`` and ``failed`` runs are finished; ``complete`` is still active because it can
#: go back to running (a changed plan) or on to closing.
ACTIVE_RUN_STATES = frozenset(
    {"created", "planning", "running", "awaiting_guidance", "paused", "stopping", "closing", "complete"}
)
#: Run statuses that stamp ``finished_at``.
FINISHED_RUN_STATES = frozenset({"complete", "failed", "stopped", "closed"})
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
