"""What the close gate reads from the engine's side: the project, its policy, the state store and the forum.

The engine's `Engine` provides all of it (the engine calls the gate with itself). The gate reads its facts
with its own reader (gate/facts.py: plain sqlite3 over state.db and forum.db); from the engine it takes the
project (where the state lives), the policy (when the base branch has none), and the store and forum only to
migrate state.db or catch the index up with the log. The gate never imports the engine (it sits below it);
the pre-push hook runs without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from metawsm.gate.facts import CHECKS_AGENT

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.config.project import Project
    from metawsm.forum import Forum
    from metawsm.state import StateStore

__all__ = ["CHECKS_AGENT", "GateContext"]


class GateContext(Protocol):
    """The facts the gate reads (`metawsm.engine.context.Engine` is one)."""

    @property
    def project(self) -> Project: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def store(self) -> StateStore: ...

    @property
    def forum(self) -> Forum: ...

    def has_state(self) -> bool: ...

    def agent_key(self, ticket: str, agent: str) -> str: ...
