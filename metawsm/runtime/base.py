"""The `Runtime` protocol: where agent sessions live (tmux on this machine, tmux in containers, …).

A session is a named, long-lived place running one main command (an agent, or a step) in a working folder
with an environment. The engine, the health evaluation, the operator, the CLI and the server talk to a
Runtime only, never to a backend directly; every backend is one module plus one line in
:mod:`metawsm.runtime.registry`.

Sessions belong to one repository: each carries **labels** (``repo``, ``home``, ``run``, ``ticket``,
``agent``, ``attempt``) recorded in the backend (tmux user options ``@metawsm_<key>``, container labels
``metawsm.<key>``). A Runtime is opened for one repository (its *scope*): it lists only that repository's
sessions, and refuses to adopt, respawn or kill a session of the same name that belongs to another one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Protocol

from metawsm.errors import ExternalError

LABEL_KEYS = ("repo", "home", "run", "ticket", "agent", "attempt")
_LABEL_VALUE = re.compile(r"^[^\t\n\r\x00]{0,512}$")


def check_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """Labels are a fixed set of keys with short single-line values (they travel through backend formats)."""
    for key, value in labels.items():
        if key not in LABEL_KEYS:
            raise ExternalError(f"unknown session label {key!r} (known: {', '.join(LABEL_KEYS)})")
        if not _LABEL_VALUE.match(value):
            raise ExternalError(f"session label {key}={value!r}: at most 512 characters, no tab or newline")
    return labels


def safe_session_name(name: str) -> str:
    """``name`` with the characters a backend would rewrite (tmux: '.', ':') or that break addressing
    replaced by '_', so the name metawsm stores is exactly the name the backend uses."""
    cleaned = "".join("_" if ch in ".:" or ch.isspace() or not ch.isprintable() else ch for ch in name)
    return cleaned.lstrip("=") or "_"


@dataclass(frozen=True)
class SessionSpec:
    """What to run: ``command`` (sh syntax; None keeps the backend's idle default) in ``cwd`` with ``env``."""

    name: str
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    window_name: str = "agent"
    labels: Mapping[str, str] = field(default_factory=dict)
    log: str | None = None  # respawn: append what the session shows to this file, from its first byte
    backend: str = "local"  # the registry name of the backend that holds it
    mounts: tuple[str, ...] = ()  # paths a backend with its own filesystem must show at the same place


@dataclass(frozen=True)
class SessionInfo:
    name: str
    created: bool  # False: an existing session (of this repository) was adopted
    pane_pid: int | None  # the main command's pid, where the backend knows it


@dataclass(frozen=True)
class SessionState:
    """One session's main process as the backend last saw it."""

    name: str
    pid: int | None
    dead: bool  # the main command exited (the session is kept so its status can be read)
    exit_status: int | None  # its exit code (128 + signal); None while alive or when unknown
    activity: float  # epoch seconds of the last output (0 when unknown)
    command: str = ""  # what runs in it now, as the backend names it
    labels: Mapping[str, str] = field(default_factory=dict)
    backend: str = "local"  # the registry name of the backend holding it
    where: str = ""  # where it runs, for people: a tmux socket, a container, a host

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "dead": self.dead, "exit_status": self.exit_status,
                "activity": self.activity, "command": self.command, "labels": dict(self.labels),
                "backend": self.backend, "where": self.where}


@dataclass(frozen=True)
class Screen:
    """What a session's main pane shows right now: its visible rows (no scrollback), with the SGR colour
    sequences kept when captured with ``ansi``, and the pane's size and cursor position."""

    name: str
    text: str
    width: int
    height: int
    cursor_x: int = 0
    cursor_y: int = 0

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "text": self.text, "width": self.width, "height": self.height,
                "cursor_x": self.cursor_x, "cursor_y": self.cursor_y}


@dataclass(frozen=True)
class RuntimeConfig:
    """How to open a Runtime: the backend's registry name, its settings, and the repository it serves."""

    backend: str = "local"
    socket_name: str = "metawsm-{repo}"  # local backend: tmux -L name; '{repo}' becomes the scope id
    scope: str = ""  # short id of the repository (runtime.scope.repo_id)
    home: str = ""  # the repository's root, recorded in each session and named when refusing one
    settings: object = None  # the backend's own typed settings (e.g. runtime.docker.DockerSettings)


class ForeignSession(ExternalError):
    """A session of that name exists but belongs to another repository (or to no metawsm run)."""

    code = "foreign_session"


class NoCapacity(ExternalError):
    """Every place this backend may put a new session is full (e.g. each ssh host's slots are taken): the
    session step waits in the queue and tries again on the next reconcile."""

    code = "no_capacity"


class Runtime(Protocol):
    """Agent sessions of one repository on one backend."""

    backend: str

    def describe(self) -> str:
        """Where the sessions live, for messages (e.g. ``tmux -L metawsm-1a2b3c4d``)."""
        ...

    def problems(self) -> list[str]:
        """What is missing for this backend to run sessions (e.g. its tool is not installed); empty when ready."""
        ...

    def create(self, spec: SessionSpec) -> SessionInfo:
        """Create the session running ``spec.command``, or adopt it when it exists and is this repository's."""
        ...

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        """:meth:`create` for many sessions at once (results in the order of ``specs``)."""
        ...

    def respawn(self, spec: SessionSpec) -> int | None:
        """Replace the existing session's main command with ``spec.command`` (killing the old one), e.g. for
        a new attempt; updates its labels; with ``spec.log``, records a transcript from the first byte;
        returns the new pid."""
        ...

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        """:meth:`respawn` for many; a session that could not be respawned is left out of the result."""
        ...

    def exists(self, name: str) -> bool:
        """Whether this repository's session ``name`` exists."""
        ...

    def sessions(self) -> dict[str, SessionState]:
        """Every session of this repository, from one query to the backend."""
        ...

    def capture(self, name: str, lines: int = 200) -> str:
        """The last ``lines`` lines the session's main command shows."""
        ...

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        """:meth:`capture` for many; a session that is gone is left out."""
        ...

    def screen(self, name: str, *, ansi: bool = True) -> Screen:
        """The session's visible screen (colours kept with ``ansi``), from one query to the backend."""
        ...

    def send(self, name: str, text: str, *, enter: bool = True) -> None:
        """Type ``text`` (literally) into the session, then Enter unless ``enter`` is False."""
        ...

    def paste(self, name: str, text: str, *, enter: bool = True) -> None:
        """Paste ``text`` into the session as one bracketed paste (when the program there asked for bracketed
        paste mode; plain typing otherwise), then Enter unless ``enter`` is False: a multi-line message
        reaches an interactive CLI as one input instead of one submission per line."""
        ...

    def kill(self, name: str) -> bool:
        """End this repository's session ``name``; False when there was none (a foreign one is left alone)."""
        ...

    def attach_command(self, name: str) -> list[str]:
        """The argv a person runs to attach a terminal to the session."""
        ...

    def record_output(self, name: str, path: str | PathLike[str]) -> None:
        """Append everything the session's main command prints from now on to ``path`` (a transcript)."""
        ...

    def release(self, run: str) -> list[str]:
        """Remove what the backend made for ``run`` besides its sessions (containers, remote worktrees) once
        none of that run's sessions is left in it; returns what it removed. Refuses (ExternalError) rather
        than lose work that exists only there."""
        ...
