"""Run state: SQLite ``state.db`` with enforced run/step/agent/ticket state machines, an audit trail and leases.

Imports nothing from metawsm except ``metawsm.errors``.
"""

from __future__ import annotations

from metawsm.state.machines import (
    ACTIVE_RUN_STATES,
    AGENT_STATES,
    AGENT_TRANSITIONS,
    RUN_STATES,
    RUN_TRANSITIONS,
    STEP_STATES,
    STEP_TRANSITIONS,
    TICKET_STATES,
    TICKET_TRANSITIONS,
    can_transition,
    check_transition,
)
from metawsm.state.models import Agent, Lease, OperatorAgentState, Run, Step, Transition
from metawsm.state.store import StateStore

__all__ = [
    "ACTIVE_RUN_STATES", "AGENT_STATES", "AGENT_TRANSITIONS", "RUN_STATES", "RUN_TRANSITIONS",
    "STEP_STATES", "STEP_TRANSITIONS", "TICKET_STATES", "TICKET_TRANSITIONS",
    "Agent", "Lease", "OperatorAgentState", "Run", "StateStore", "Step",
    "Transition", "can_transition", "check_transition",
]
