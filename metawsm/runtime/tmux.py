"""tmux through libtmux on an explicit socket (never the user's default server).

Commands start as a window's command (argv ``/bin/sh -c <command>``, so neither typed keys nor the user's
login shell are involved) with ``remain-on-exit on`` set for that window in the same tmux invocation, so a
command that exits at once still leaves a dead pane whose exit status can be read. Requires tmux >= 3.2.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metawsm.errors import ExternalError
from metawsm.runtime import envpass
from metawsm.runtime.tmux_panes import PANE_FORMAT as _PANE_FORMAT
from metawsm.runtime.tmux_panes import SEP as _SEP
from metawsm.runtime.tmux_panes import PaneInfo
from metawsm.runtime.tmux_panes import parse_pane as _parse_pane
from metawsm.runtime.tmux_panes import to_int as _int

_NO_SERVER = ("no server running", "error connecting to", "No such file or directory", "server exited")
# a server whose last session just went away answers queries with these: nothing to list, not an error
_NO_SESSIONS = ("no current target", "no sessions")
_BATCH = 20  # new-session commands per tmux invocation in start_many
# tmux refuses a command line over 16 KiB ("command too long"); chained batches stay under this many bytes
# of arguments (each session's -e environment, with PATH, is about 1 KiB).
_BATCH_BYTES = 12_000


def _chunks(parts: Sequence[Sequence[str]], most: int = _BATCH, limit: int = _BATCH_BYTES) -> list[list[int]]:
    """Indexes of ``parts`` (one tmux command list each) grouped so that each group, chained with ';',
    fits in one tmux invocation. A single over-long part gets a group of its own (and tmux's error)."""
    groups: list[list[int]] = []
    size = 0
    for index, args in enumerate(parts):
        n = sum(len(a.encode()) + 1 for a in args) + 2
        if not groups or len(groups[-1]) >= most or size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += n
    return groups


def bin_dir() -> str:
    """The folder of the interpreter running metawsm (a virtualenv's bin holds the ``metawsm`` script)."""
    return str(Path(sys.executable).parent)


def agent_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` over the variables every session gets from the starting command (runtime/envpass.py), with
    PATH starting with :func:`bin_dir` (PATH defaults to this process's PATH)."""
    result = {**envpass.passed(), **env}
    first = bin_dir()
    parts = [p for p in (result.get("PATH") or os.environ.get("PATH", "")).split(os.pathsep) if p]
    if not parts or parts[0] != first:
        parts.insert(0, first)
    result["PATH"] = os.pathsep.join(parts)
    return result


def safe_session_name(name: str) -> str:
    """``name`` with the characters tmux would silently rewrite ('.', ':') or that break targets replaced by
    '_', so the name metawsm stores is exactly the name tmux uses."""
    cleaned = "".join("_" if ch in ".:" or ch.isspace() or not ch.isprintable() else ch for ch in name)
    return cleaned.lstrip("=") or "_"


def check_session_name(name: str) -> str:
    if not name or name != safe_session_name(name):
        raise ExternalError(
            f"invalid tmux session name {name!r}: tmux would rename it",
            hint=f"use {safe_session_name(name)!r} (metawsm.runtime.tmux.safe_session_name)",
        )
    return name


def _arg(value: str) -> str:
    """tmux ends a command at an argument ending in ';'; escape that ';' so the value reaches tmux intact."""
    return value[:-1] + "\\;" if value.endswith(";") else value


def _env_args(env: Mapping[str, str], command: str | None = None) -> list[str]:
    """``-e`` arguments; PATH only when there is no command (a command gets PATH from :func:`_command_args`)."""
    args: list[str] = []
    for key, value in env.items():
        if key == "PATH" and command is not None:
            continue
        if not key or "=" in key:
            raise ExternalError(f"invalid environment variable name {key!r} for tmux")
        args += ["-e", _arg(f"{key}={value}")]
    return args


# The window command: the user's command runs in an inner /bin/sh (passed as "$1", never interpolated);
# its exit code is then stored in the pane option @metawsm_exit through the pane's own server ($TMUX).
# tmux's own #{pane_dead_status} is sometimes left empty for panes that exit close together (tmux 3.3),
# so the snapshot reads the option first.
_WRAPPER = '/bin/sh -c "$1"; s=$?; "$2" set-option -p -t "$TMUX_PANE" @metawsm_exit "$s" 2>/dev/null; exit "$s"'
_EXIT_OPTION = "@metawsm_exit"


def _command_args(command: str | None, tmux_bin: str = "tmux", env: Mapping[str, str] | None = None) -> list[str]:
    """The window command. tmux 3.3 gives a new pane the *client's* PATH whatever ``-e PATH`` says, and the
    server's stale copy of any variable not passed: ``env`` sets PATH and unsets stale credentials first."""
    if command is None:
        return []
    prefix: list[str] = []
    if env is not None:
        prefix = ["/usr/bin/env"]
        for name in envpass.to_unset(env):
            prefix += ["-u", name]
        if "PATH" in env and env["PATH"] != os.environ.get("PATH"):  # else the client's PATH is right
            prefix.append(_arg(f"PATH={env['PATH']}"))
    return [*prefix, "/bin/sh", "-c", _WRAPPER, "metawsm-agent", _arg(command), _arg(tmux_bin)]


@dataclass(frozen=True)
class SessionSpec:
    name: str
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    window_name: str = "agent"
    log: str | None = None  # respawn: append what the pane shows to this file (pipe-pane, from the first byte)


@dataclass(frozen=True)
class SessionInfo:
    name: str
    created: bool  # False: an existing session was adopted
    pane_pid: int | None


@dataclass(frozen=True)
class WindowInfo:
    session: str
    name: str
    window_id: str
    pane_pid: int | None


class Tmux:
    """One tmux server, addressed by socket name (``tmux -L <socket_name>``)."""

    def __init__(self, socket_name: str, *, config_file: str | None = None) -> None:
        if not socket_name:
            raise ExternalError("a tmux socket name is required (metawsm never uses the default server)")
        self.socket_name = socket_name
        self.tmux_bin = shutil.which("tmux") or "tmux"
        self._config_file = config_file
        self._server: Any = None

    @property
    def server(self) -> Any:
        """The libtmux Server, created on first use: importing libtmux costs ~100 ms, which commands that
        never talk to tmux (or only check names) should not pay."""
        if self._server is None:
            import libtmux

            self._server = libtmux.Server(socket_name=self.socket_name, config_file=self._config_file)
        return self._server

    # -- plumbing ---------------------------------------------------------------------------------------
    def _cmd(self, *args: str, check: bool = True) -> tuple[int, list[str], list[str]]:
        from libtmux import exc as libtmux_exc

        try:
            result = self.server.cmd(*args)
        except libtmux_exc.TmuxCommandNotFound as exc:
            raise ExternalError("tmux is not installed", hint="install tmux (3.2 or newer)") from exc
        except (libtmux_exc.LibTmuxException, OSError) as exc:
            raise ExternalError(f"tmux {shlex.join(args)} failed: {exc}") from exc
        code = int(result.returncode or 0)
        if check and code != 0:
            raise ExternalError(
                f"tmux command failed with exit code {code}: tmux -L {self.socket_name} {shlex.join(args)}\n"
                + "\n".join("  " + line for line in result.stderr[-10:]))
        return code, list(result.stdout), list(result.stderr)

    def _query(self, *args: str) -> list[str] | None:
        """Run a read-only command; None when no server is running on the socket."""
        code, out, err = self._cmd(*args, check=False)
        if code == 0:
            return out
        if any(marker in line for line in err for marker in _NO_SERVER + _NO_SESSIONS):
            return None
        raise ExternalError(f"tmux -L {self.socket_name} {shlex.join(args)} failed: {' '.join(err)}")

    def _new_session_args(self, spec: SessionSpec, fmt: str) -> list[str]:
        check_session_name(spec.name)
        env = agent_env(spec.env)
        return [
            "new-session", "-d", "-s", _arg(spec.name), "-n", _arg(spec.window_name), "-c", _arg(spec.cwd),
            *_env_args(env, spec.command), "-P", "-F", fmt, *_command_args(spec.command, self.tmux_bin, env),
            ";", "set-option", "-w", "-t", _arg(f"={spec.name}:^"), "remain-on-exit", "on",
        ]

    # -- sessions ---------------------------------------------------------------------------------------
    def has_session(self, name: str) -> bool:
        return self._cmd("has-session", "-t", _arg(f"={name}"), check=False)[0] == 0

    def list_sessions(self) -> list[str]:
        return self._query("list-sessions", "-F", "#{session_name}") or []

    def ensure_session(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                       command: str | None, window_name: str = "agent") -> SessionInfo:
        """Create session ``name`` running ``command`` in its first window, or adopt it if it exists."""
        check_session_name(name)
        existing = self.snapshot().get(name)
        if existing is not None:
            return SessionInfo(name, created=False, pane_pid=existing.pane_pid)
        spec = SessionSpec(name, os.fspath(cwd), env, command, window_name)
        code, out, err = self._cmd(*self._new_session_args(spec, "#{pane_pid}"), check=False)
        if code != 0:
            if any("duplicate session" in line for line in err):  # created meanwhile by another process
                pane = self.snapshot().get(name)
                return SessionInfo(name, created=False, pane_pid=pane.pane_pid if pane else None)
            raise ExternalError(f"cannot start tmux session {name!r} in {cwd}: {' '.join(err)}")
        return SessionInfo(name, created=True, pane_pid=_int(out[0]) if out else None)

    def start_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        """Ensure many sessions with few tmux invocations: one snapshot, then one chained invocation per
        batch of new sessions. Existing sessions are adopted. Results follow the order of ``specs``."""
        for spec in specs:
            check_session_name(spec.name)
        current = self.snapshot()
        pids: dict[str, int | None] = {}
        todo: list[SessionSpec] = []
        for spec in specs:
            if spec.name not in current and spec.name not in {s.name for s in todo}:
                todo.append(spec)
        parts = [self._new_session_args(spec, f"#{{pane_pid}}{_SEP}#{{session_name}}") for spec in todo]
        for group in _chunks(parts):
            args: list[str] = []
            for index in group:
                if args:
                    args.append(";")
                args += parts[index]
            # a failing command (e.g. a session created meanwhile) ends its batch; the rest go one by one
            _, out, _ = self._cmd(*args, check=False)
            for line in out:
                pid, _, session = line.partition(_SEP)
                pids[session] = _int(pid)
        infos = []
        for spec in specs:
            if spec.name in pids:
                infos.append(SessionInfo(spec.name, created=True, pane_pid=pids[spec.name]))
            elif spec in todo:
                infos.append(self.ensure_session(spec.name, spec.cwd, spec.env, spec.command, spec.window_name))
            else:
                pane = current.get(spec.name)
                infos.append(SessionInfo(spec.name, created=False, pane_pid=pane.pane_pid if pane else None))
        return infos

    def respawn(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                command: str | None, log: str | None = None) -> int | None:
        """Restart the session's first-window command in place (killing the old process, alive or dead),
        e.g. for a new agent attempt; returns the new pane pid. The session must exist. With ``log``, what
        the pane shows is appended to that file from the command's first output on."""
        _, out, _ = self._cmd(*self._respawn_args(name, cwd, env, command, log))
        return _int(out[-1]) if out else None

    def _respawn_args(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                      command: str | None, log: str | None = None) -> list[str]:
        """The chained commands of one respawn; they print exactly one line (the new pane pid). The pipe is
        opened in the same invocation, before tmux reads anything the new command prints."""
        check_session_name(name)
        target = _arg(f"={name}:^")
        full = agent_env(env)
        return [
            "set-option", "-w", "-t", target, "remain-on-exit", "on", ";",
            "set-option", "-p", "-u", "-t", target, _EXIT_OPTION, ";",
            "respawn-pane", "-k", "-t", target, "-c", _arg(os.fspath(cwd)), *_env_args(full, command),
            *_command_args(command, self.tmux_bin, full), ";",
            *(["pipe-pane", "-t", target, _arg(f"exec cat >> {shlex.quote(log)}"), ";"] if log else []),
            "display-message", "-p", "-t", target, "#{pane_pid}",
        ]

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        """:meth:`respawn` for many sessions (each spec's ``command`` in its session's first window) with one
        chained tmux invocation per batch; returns the new pane pid per respawned session. tmux ends a chain
        at its first failing command: the sessions after it are chained again, and the failing session is
        left out of the result (the caller's single :meth:`respawn` then raises its own error)."""
        parts = [self._respawn_args(s.name, s.cwd, s.env, s.command, s.log) for s in specs]
        pids: dict[str, int | None] = {}
        for group in _chunks(parts):
            while group:
                args: list[str] = []
                for index in group:
                    if args:
                        args.append(";")
                    args += parts[index]
                code, out, _ = self._cmd(*args, check=False)
                done = min(len(out), len(group))
                for index, line in zip(group[:done], out[:done], strict=True):
                    pids[specs[index].name] = _int(line)
                group = [] if code == 0 and done == len(group) else group[done + 1:]
        return pids

    def kill_session(self, name: str) -> bool:
        """Kill exactly the session ``name``; False when it did not exist."""
        return self._cmd("kill-session", "-t", _arg(f"={name}"), check=False)[0] == 0

    def new_window(self, session: str, name: str, command: str, cwd: str | os.PathLike[str],
                   env: Mapping[str, str]) -> WindowInfo:
        """Run ``command`` in a new window of ``session``, kept after exit so its status can be read.

        The window starts on a placeholder; ``remain-on-exit`` is set on it and the real command replaces
        the placeholder (respawn-pane), so even a command that exits at once leaves its status."""
        _, out, _ = self._cmd("new-window", "-d", "-t", _arg(f"={session}:"), "-n", _arg(name),
                              "-P", "-F", "#{window_id}", "/bin/sh", "-c", "exec sleep 86400")
        window_id = out[0].strip()
        full = agent_env(env)
        _, out, _ = self._cmd(
            "set-option", "-w", "-t", window_id, "remain-on-exit", "on", ";",
            "respawn-pane", "-k", "-t", window_id, "-c", _arg(os.fspath(cwd)), *_env_args(full, command),
            *_command_args(command, self.tmux_bin, full), ";", "display-message", "-p", "-t", window_id, "#{pane_pid}",
        )
        return WindowInfo(session, name, window_id, _int(out[-1]) if out else None)

    # -- observation ------------------------------------------------------------------------------------
    def snapshot_panes(self) -> list[PaneInfo]:
        """Every pane of every session, in ONE tmux call."""
        lines = self._query("list-panes", "-a", "-F", _PANE_FORMAT) or []
        return [pane for pane in map(_parse_pane, lines) if pane is not None]

    def snapshot(self) -> dict[str, PaneInfo]:
        """Per session, its first window's first pane (the agent pane), from ONE tmux call."""
        result: dict[str, PaneInfo] = {}
        for pane in self.snapshot_panes():
            seen = result.get(pane.session)
            if seen is None or (pane.window_index, pane.pane_index) < (seen.window_index, seen.pane_index):
                result[pane.session] = pane
        return result

    def capture_many(self, sessions: Sequence[str], lines: int = 200) -> dict[str, str]:
        """The last `lines` lines of many sessions' agent panes, in one chained tmux call per 100 sessions
        (a marker line separates them); a session that is gone is left out."""
        result: dict[str, str] = {}
        marker = "@@metawsm-capture-end@@"
        for start in range(0, len(sessions), 100):
            batch = list(sessions[start:start + 100])
            args: list[str] = []
            for name in batch:
                if args:
                    args.append(";")
                args += ["capture-pane", "-p", "-J", "-S", f"-{int(lines)}", "-t", _arg(f"={name}:^"), ";",
                         "display-message", "-p", marker]
            code, out, _ = self._cmd(*args, check=False)
            chunks: list[list[str]] = [[]]
            for line in out:
                if line == marker:
                    chunks.append([])
                else:
                    chunks[-1].append(line)
            if code == 0 and len(chunks) == len(batch) + 1:
                for name, chunk in zip(batch, chunks, strict=False):
                    while chunk and not chunk[-1].strip():
                        chunk.pop()
                    result[name] = "\n".join(chunk[-lines:])
            else:  # one of them is gone: ask one by one
                for name in batch:
                    try:
                        result[name] = self.capture_pane(name, lines)
                    except ExternalError:
                        continue
        return result

    def capture_pane(self, session: str, lines: int = 200, *, window: str | None = None) -> str:
        """The last ``lines`` lines of the session's first window (or ``window``, an id like ``@3``)."""
        target = window if window else f"={session}:^"
        _, out, _ = self._cmd("capture-pane", "-p", "-J", "-S", f"-{int(lines)}", "-t", _arg(target))
        while out and not out[-1].strip():
            out.pop()
        return "\n".join(out[-lines:])
