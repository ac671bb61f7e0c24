"""What the close gate reads: the project, its policy, the state store and the forum.

The engine's `Engine` provides all of it (the engine calls the gate with itself); the pre-push hook, which runs
without the engine, opens :class:`GateFacts`. The gate never imports the engine (it sits below it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from metawsm.forum.ids import agent_key

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.config.project import Project
    from metawsm.forum import Forum
    from metawsm.state import StateStore

CHECKS_AGENT = "checks"  # the pseudo-agent whose control thread records a ticket's check results


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


@dataclass
class GateFacts:
    """A GateContext without the engine (the pre-push hook)."""

    project: Project
    policy: Policy

    @classmethod
    def open(cls, project: Project, policy: Policy | None = None) -> GateFacts:
        if policy is None:
            from metawsm.config.loader import load_policy

            policy = load_policy(project)
        return cls(project, policy)

    def has_state(self) -> bool:
        return "store" in self.__dict__ or (self.project.state_dir / "state.db").exists()

    @cached_property
    def store(self) -> StateStore:
        from metawsm.state import StateStore

        return StateStore(self.project.state_dir / "state.db")

    @cached_property
    def forum(self) -> Forum:
        from metawsm.forum import Forum

        return Forum.for_project(self.project, self.policy)

    @staticmethod
    def agent_key(ticket: str, agent: str) -> str:
        return agent_key(ticket, agent)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
