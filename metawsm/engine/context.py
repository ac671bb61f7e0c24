"""What the engine works with: the project, its policy, the state store, the forum and the session Runtime."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.config.models import Policy
from metawsm.config.project import Project
from metawsm.forum import Forum
from metawsm.forum.ids import agent_key
from metawsm.gate.context import CHECKS_AGENT as GATE_CHECKS_AGENT
from metawsm.runtime.base import RuntimeConfig, SessionState
from metawsm.state import StateStore

if TYPE_CHECKING:
    from metawsm.runtime.router import RoutedRuntime
    from metawsm.state.models import Agent

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
    def runtime(self) -> RoutedRuntime:
        """Where this repository's agent sessions live: each on the backend its steps name (local: tmux on this
        machine), served together; the backends recorded in state.db are served from the start."""
        from metawsm.runtime.router import RoutedRuntime
        from metawsm.runtime.scope import repo_id

        scope, home = repo_id(self.project.root), str(self.project.root)
        runtime = self.policy.runtime

        def configure(name: str) -> RuntimeConfig:
            return RuntimeConfig(name, self.policy.tmux.socket_name, scope, home, getattr(runtime, name, None))

        return RoutedRuntime(configure, self.store.session_backends() if self.has_state() else ())

    def sessions(self, *, refresh: bool = False) -> dict[str, SessionState]:
        """Every session of this repository, from one batched query to the Runtime (cached until refreshed)."""
        if self._snapshot is None or refresh:
            self._snapshot = self.runtime.sessions()
        return self._snapshot

    def stale_for(self, agents: Iterable[Agent]) -> bool:
        """Whether the cached view of sessions may predate the current attempt of one of `agents`: it lacks the
        agent's session, or shows another process than the one its attempt launched (a restart since killed or
        respawned the session). Judging the new attempt by that view would take it for dead and restart it."""
        if self._snapshot is None:
            return False
        for a in agents:
            state = self._snapshot.get(a.session)
            if a.session and a.attempt >= 1 and (
                    state is None or (a.pane_pid is not None and state.pid is not None and state.pid != a.pane_pid)):
                return True
        return False

    def cached_sessions(self) -> dict[str, SessionState]:
        """The sessions the last :meth:`sessions` call saw (empty when none was made: no Runtime query)."""
        return self._snapshot or {}

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
