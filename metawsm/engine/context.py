"""What the engine works with: the project, its policy, the state store, the forum and the session Runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from metawsm.config.models import Policy
from metawsm.config.project import Project
from metawsm.forum import Forum
from metawsm.forum.ids import agent_key
from metawsm.gate.context import CHECKS_AGENT as GATE_CHECKS_AGENT
from metawsm.runtime.base import Runtime, RuntimeConfig, SessionState
from metawsm.state import StateStore

CHECKS_AGENT = GATE_CHECKS_AGENT  # the pseudo-agent whose control thread records a ticket's check results


@dataclass
class Engine:
    """One command's (or one daemon tick's) handle on everything a run touches."""

    project: Project
    policy: Policy
    clock: Callable[[], float] = time.time
    _snapshot: dict[str, SessionState] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, project: Project, policy: Policy | None = None) -> Engine:
        if policy is None:
            from metawsm.config.loader import load_policy

            policy = load_policy(project)
        return cls(project, policy)

    def has_state(self) -> bool:
        """Whether state.db exists (read-only paths such as dry runs must not create it)."""
        return "store" in self.__dict__ or (self.project.state_dir / "state.db").exists()

    @cached_property
    def store(self) -> StateStore:
        self.project.state_dir.mkdir(parents=True, exist_ok=True)
        return StateStore(self.project.state_dir / "state.db")

    @cached_property
    def forum(self) -> Forum:
        return Forum.for_project(self.project, self.policy)

    @cached_property
    def runtime(self) -> Runtime:
        """Where this repository's agent sessions live (the `local` backend: tmux on this machine)."""
        from metawsm.runtime.registry import open_runtime
        from metawsm.runtime.scope import repo_id

        return open_runtime(RuntimeConfig("local", self.policy.tmux.socket_name, repo_id(self.project.root),
                                          str(self.project.root)))

    def sessions(self, *, refresh: bool = False) -> dict[str, SessionState]:
        """Every session of this repository, from one batched query to the Runtime (cached until refreshed)."""
        if self._snapshot is None or refresh:
            self._snapshot = self.runtime.sessions()
        return self._snapshot

    def forget_sessions(self) -> None:
        self._snapshot = None

    def logs_dir(self, run_id: str) -> Path:
        path = self.project.logs_dir / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def agent_key(ticket: str, agent: str) -> str:
        return agent_key(ticket, agent)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
