"""What the engine works with: the project, its policy, the state store, the forum and tmux."""

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
from metawsm.runtime.tmux import PaneInfo, Tmux
from metawsm.state import StateStore

CHECKS_AGENT = "checks"  # the pseudo-agent whose control thread records a ticket's check results


@dataclass
class Engine:
    """One command's (or one daemon tick's) handle on everything a run touches."""

    project: Project
    policy: Policy
    clock: Callable[[], float] = time.time
    _snapshot: dict[str, PaneInfo] | None = field(default=None, repr=False)

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
    def tmux(self) -> Tmux:
        return Tmux(self.policy.tmux.socket_name)

    def panes(self, *, refresh: bool = False) -> dict[str, PaneInfo]:
        """Every session's agent pane, from one batched tmux query (cached until refreshed)."""
        if self._snapshot is None or refresh:
            self._snapshot = self.tmux.snapshot()
        return self._snapshot

    def forget_panes(self) -> None:
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
