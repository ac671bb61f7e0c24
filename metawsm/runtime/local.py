"""The `local` Runtime: sessions are tmux sessions on this machine, on a socket of their own.

The socket name comes from the policy (`tmux.socket_name`, default ``metawsm-{repo}``: ``{repo}`` becomes
the repository's short id, so two repositories never share a server). Every session is labelled with the
repository's id and root (plus run, ticket, agent, attempt where known); the sessions of another repository
on a shared socket are invisible to this Runtime and are never adopted, respawned, typed into or killed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace

from metawsm.runtime.base import ForeignSession, RuntimeConfig, Screen, SessionInfo, SessionSpec, SessionState
from metawsm.runtime.tmux import Tmux
from metawsm.runtime.tmux_panes import PaneInfo


def _state(pane: PaneInfo, where: str = "") -> SessionState:
    return SessionState(pane.session, pane.pane_pid, pane.pane_dead, pane.exit_status, pane.activity,
                        pane.current_command, pane.labels, "local", where)


class TmuxRuntime:
    """Agent sessions of one repository in tmux (``tmux -L <socket>``)."""

    backend = "local"

    def __init__(self, config: RuntimeConfig) -> None:
        self.scope, self.home = config.scope, config.home
        self.socket_name = config.socket_name.replace("{repo}", config.scope or "default")
        self.tmux = Tmux(self.socket_name)

    def describe(self) -> str:
        return f"tmux -L {self.socket_name}"

    def problems(self) -> list[str]:
        if shutil.which("tmux") is None:
            return ["tmux is not installed (or not on PATH); agents run in tmux sessions"]
        return []

    # -- ownership ----------------------------------------------------------------------------------------
    def _own(self, spec: SessionSpec) -> SessionSpec:
        if not self.scope:
            return spec
        labels = {**spec.labels, "repo": self.scope}
        if self.home:
            labels["home"] = self.home
        return replace(spec, labels=labels)

    def _mine(self, pane: PaneInfo | None) -> bool:
        return pane is not None and (not self.scope or pane.labels.get("repo") == self.scope)

    def _check(self, spec: SessionSpec, panes: dict[str, PaneInfo]) -> SessionSpec:
        spec = self._own(spec)
        pane = panes.get(spec.name)
        if pane is None:
            raise ForeignSession(f"no session {spec.name!r} on {self.describe()} to restart",
                                 hint="it ended meanwhile; `metawsm resume` creates it again")
        self.tmux.check_owner(spec, pane)
        return spec

    # -- sessions -----------------------------------------------------------------------------------------
    def create(self, spec: SessionSpec) -> SessionInfo:
        spec = self._own(spec)
        return self.tmux.ensure_session(spec.name, spec.cwd, spec.env, spec.command, spec.window_name,
                                        labels=spec.labels)

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        return self.tmux.start_many([self._own(spec) for spec in specs])

    def respawn(self, spec: SessionSpec) -> int | None:
        spec = self._check(spec, self.tmux.snapshot())
        return self.tmux.respawn(spec.name, spec.cwd, spec.env, spec.command, spec.log, labels=spec.labels)

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        panes = self.tmux.snapshot()
        mine = [self._own(s) for s in specs if self._mine(panes.get(s.name))]
        return self.tmux.respawn_many(mine) if mine else {}

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def sessions(self) -> dict[str, SessionState]:
        where = self.describe()
        return {name: _state(pane, where) for name, pane in self.tmux.snapshot().items() if self._mine(pane)}

    def capture(self, name: str, lines: int = 200) -> str:
        return self.tmux.capture_pane(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        return self.tmux.capture_many(names, lines)

    def screen(self, name: str, *, ansi: bool = True) -> Screen:
        from metawsm.runtime.tmux_screen import capture_screen

        return capture_screen(self.tmux, name, ansi=ansi)

    def send(self, name: str, text: str, *, enter: bool = True) -> None:
        self._check(SessionSpec(name, ""), self.tmux.snapshot())
        self.tmux.send_keys(name, text, enter=enter)

    def paste(self, name: str, text: str, *, enter: bool = True) -> None:
        from metawsm.runtime.tmux_screen import paste

        self._check(SessionSpec(name, ""), self.tmux.snapshot())
        paste(self.tmux, name, text, enter=enter)

    def kill(self, name: str) -> bool:
        if not self._mine(self.tmux.snapshot().get(name)):
            return False
        return self.tmux.kill_session(name)

    def attach_command(self, name: str) -> list[str]:
        return ["tmux", "-L", self.socket_name, "attach-session", "-t", f"={name}"]

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self._check(SessionSpec(name, ""), self.tmux.snapshot())
        self.tmux.pipe_output(name, path)

    def release(self, run: str) -> list[str]:
        return []  # sessions are all this backend makes; worktrees are the engine's
