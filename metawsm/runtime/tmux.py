"""tmux through libtmux on an explicit socket (never the user's default server).

Commands start as a window's command (argv ``/bin/sh -c <command>``, so neither typed keys nor the user's
login shell are involved) with ``remain-on-exit on`` set for that window in the same tmux invocation, so a
command that exits at once still leaves a dead pane whose exit status can be read. Requires tmux >= 3.2.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metawsm.errors import ExternalError
from metawsm.runtime.base import ForeignSession, SessionInfo, SessionSpec, check_labels
from metawsm.runtime.tmux_args import BATCH as _BATCH
from metawsm.runtime.tmux_args import BATCH_BYTES as _BATCH_BYTES
from metawsm.runtime.tmux_args import EXIT_OPTION as _EXIT_OPTION
from metawsm.runtime.tmux_args import agent_env, bin_dir, check_session_name, label_args, safe_session_name
from metawsm.runtime.tmux_args import arg as _arg
from metawsm.runtime.tmux_args import chunks as _chunks
from metawsm.runtime.tmux_args import command_args as _command_args
from metawsm.runtime.tmux_args import env_args as _env_args
from metawsm.runtime.tmux_panes import PANE_FORMAT as _PANE_FORMAT
from metawsm.runtime.tmux_panes import SEP as _SEP
from metawsm.runtime.tmux_panes import PaneInfo
from metawsm.runtime.tmux_panes import parse_pane as _parse_pane
from metawsm.runtime.tmux_panes import to_int as _int

_NO_SERVER = ("no server running", "error connecting to", "No such file or directory", "server exited")
# a server whose last session just went away answers queries with these: nothing to list, not an error
_NO_SESSIONS = ("no current target", "no sessions")

__all__ = ["_BATCH", "_BATCH_BYTES", "PaneInfo", "SessionInfo", "SessionSpec", "Tmux", "WindowInfo", "_chunks",
           "agent_env", "bin_dir", "check_session_name", "safe_session_name"]

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

    def session_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The environment a session gets for ``env`` (tmux_args.agent_env: passed variables, PATH)."""
        return agent_env(env)

    def window_command(self, command: str | None, env: Mapping[str, str]) -> list[str]:
        """The argv of a window running ``command`` (tmux_args.command_args)."""
        return _command_args(command, self.tmux_bin, env)

    def _query(self, *args: str) -> list[str] | None:
        """Run a read-only command; None when no server is running on the socket."""
        code, out, err = self._cmd(*args, check=False)
        if code == 0:
            return out
        if any(marker in line for line in err for marker in _NO_SERVER + _NO_SESSIONS):
            return None
        raise ExternalError(f"tmux -L {self.socket_name} {shlex.join(args)} failed: {' '.join(err)}")

    def new_session_args(self, spec: SessionSpec, fmt: str) -> list[str]:
        """One chained invocation: the session, remain-on-exit, and its labels (so a session is never seen
        without the labels that say whose it is)."""
        check_session_name(spec.name)
        env = self.session_env(spec.env)
        return [
            "new-session", "-d", "-s", _arg(spec.name), "-n", _arg(spec.window_name), "-c", _arg(spec.cwd),
            *_env_args(env, spec.command), "-P", "-F", fmt, *self.window_command(spec.command, env),
            ";", "set-option", "-w", "-t", _arg(f"={spec.name}:^"), "remain-on-exit", "on",
            *label_args(spec.name, check_labels(spec.labels)),
        ]

    def check_owner(self, spec: SessionSpec, pane: PaneInfo | None) -> None:
        """Refuse to adopt ``pane``'s session for ``spec`` when it belongs to another repository (its `repo`
        label differs, or it has none while ``spec`` has one)."""
        want = spec.labels.get("repo")
        if pane is None or not want or pane.labels.get("repo") == want:
            return
        owner = pane.labels.get("home") or pane.labels.get("repo") or "no metawsm repository (no labels)"
        raise ForeignSession(
            f"tmux session {spec.name!r} on socket {self.socket_name} belongs to {owner}, not to this "
            f"repository ({spec.labels.get('home') or want}): metawsm does not adopt it",
            hint="give each repository its own socket (tmux.socket_name with {repo}, the default), "
                 "or end that session if it is stale")

    # -- sessions ---------------------------------------------------------------------------------------
    def has_session(self, name: str) -> bool:
        return self._cmd("has-session", "-t", _arg(f"={name}"), check=False)[0] == 0

    def list_sessions(self) -> list[str]:
        return self._query("list-sessions", "-F", "#{session_name}") or []

    def ensure_session(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                       command: str | None, window_name: str = "agent", *,
                       labels: Mapping[str, str] | None = None) -> SessionInfo:
        """Create session ``name`` running ``command`` in its first window, or adopt it if it exists (and,
        with a `repo` label, belongs to that repository: else ForeignSession)."""
        check_session_name(name)
        spec = SessionSpec(name, os.fspath(cwd), env, command, window_name, labels or {})
        existing = self.snapshot().get(name)
        if existing is not None:
            self.check_owner(spec, existing)
            return SessionInfo(name, created=False, pane_pid=existing.pane_pid)
        code, out, err = self._cmd(*self.new_session_args(spec, "#{pane_pid}"), check=False)
        if code != 0:
            if any("duplicate session" in line for line in err):  # created meanwhile by another process
                pane = self.snapshot().get(name)
                self.check_owner(spec, pane)
                return SessionInfo(name, created=False, pane_pid=pane.pane_pid if pane else None)
            raise ExternalError(f"cannot start tmux session {name!r} in {cwd}: {' '.join(err)}")
        return SessionInfo(name, created=True, pane_pid=_int(out[0]) if out else None)

    def start_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        """Ensure many sessions with few tmux invocations: one snapshot, then one chained invocation per
        batch of new sessions. Existing sessions are adopted. Results follow the order of ``specs``."""
        current = self.snapshot()
        for spec in specs:
            check_session_name(spec.name)
            self.check_owner(spec, current.get(spec.name))
        pids: dict[str, int | None] = {}
        todo: list[SessionSpec] = []
        for spec in specs:
            if spec.name not in current and spec.name not in {s.name for s in todo}:
                todo.append(spec)
        parts = [self.new_session_args(spec, f"#{{pane_pid}}{_SEP}#{{session_name}}") for spec in todo]
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
                infos.append(self.ensure_session(spec.name, spec.cwd, spec.env, spec.command, spec.window_name,
                                                 labels=spec.labels))
            else:
                pane = current.get(spec.name)
                infos.append(SessionInfo(spec.name, created=False, pane_pid=pane.pane_pid if pane else None))
        return infos

    def respawn(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                command: str | None, log: str | None = None, *, labels: Mapping[str, str] | None = None) -> int | None:
        """Restart the session's first-window command in place (killing the old process, alive or dead),
        e.g. for a new agent attempt, recording ``labels``; returns the new pane pid. The session must exist.
        With ``log``, what the pane shows is appended to that file from the command's first output on."""
        _, out, _ = self._cmd(*self._respawn_args(name, cwd, env, command, labels or {}, log))
        return _int(out[-1]) if out else None

    def _respawn_args(self, name: str, cwd: str | os.PathLike[str], env: Mapping[str, str],
                      command: str | None, labels: Mapping[str, str], log: str | None = None) -> list[str]:
        """The chained commands of one respawn; they print exactly one line (the new pane pid). The pipe is
        opened in the same invocation, before tmux reads anything the new command prints."""
        check_session_name(name)
        target = _arg(f"={name}:^")
        full = self.session_env(env)
        return [
            *label_args(name, check_labels(labels))[1:], *([";"] if labels else []),
            "set-option", "-w", "-t", target, "remain-on-exit", "on", ";",
            "set-option", "-p", "-u", "-t", target, _EXIT_OPTION, ";",
            "respawn-pane", "-k", "-t", target, "-c", _arg(os.fspath(cwd)), *_env_args(full, command),
            *self.window_command(command, full), ";",
            *(["pipe-pane", "-t", target, _arg(f"exec cat >> {shlex.quote(log)}"), ";"] if log else []),
            "display-message", "-p", "-t", target, "#{pane_pid}",
        ]

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        """:meth:`respawn` for many sessions (each spec's ``command`` in its session's first window) with one
        chained tmux invocation per batch; returns the new pane pid per respawned session. tmux ends a chain
        at its first failing command: the sessions after it are chained again, and the failing session is
        left out of the result (the caller's single :meth:`respawn` then raises its own error)."""
        parts = [self._respawn_args(s.name, s.cwd, s.env, s.command, s.labels, s.log) for s in specs]
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

    def send_keys(self, name: str, text: str, *, enter: bool = True) -> None:
        """Type ``text`` literally into the session's first window (then Enter, unless ``enter`` is False)."""
        target = _arg(f"={name}:^")
        args = ["send-keys", "-t", target, "-l", "--", _arg(text)] if text else []
        if enter:
            args += [*([";"] if args else []), "send-keys", "-t", target, "Enter"]
        if args:
            self._cmd(*args)

    def load_buffer(self, buffer: str, text: str) -> None:
        """Put ``text`` in paste buffer ``buffer`` (read from stdin: no command-line limit)."""
        from metawsm.runtime import proc

        proc.run([self.tmux_bin, "-L", self.socket_name, "load-buffer", "-b", buffer, "-"], input=text, timeout=15)

    def pipe_output(self, name: str, path: str | os.PathLike[str]) -> None:
        """Append what the session's first window prints from now on to ``path`` (keeps an existing pipe)."""
        self._cmd("pipe-pane", "-o", "-t", _arg(f"={name}:^"), f"cat >> {shlex.quote(os.fspath(path))}")

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
        full = self.session_env(env)
        _, out, _ = self._cmd(
            "set-option", "-w", "-t", window_id, "remain-on-exit", "on", ";",
            "respawn-pane", "-k", "-t", window_id, "-c", _arg(os.fspath(cwd)), *_env_args(full, command),
            *self.window_command(command, full), ";", "display-message", "-p", "-t", window_id, "#{pane_pid}",
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
