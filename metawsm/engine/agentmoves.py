"""Walking an agent record through the agent state machine (no session, no CLI: close, stop and cleanup use it
without importing the agent step kind and the AI CLIs' support it brings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Agent


def move(eng: Engine, agent: Agent, *states: str, reason: str) -> None:
    """Walk the agent through `states` where the machine allows it (skipping impossible hops)."""
    current = agent.status
    for state in states:
        if current != state and can_transition("agent", current, state):
            eng.store.transition_agent(agent.run_id, agent.ticket, agent.name, state, reason)
            current = state
