"""The one subprocess wrapper. Commands are argv lists; only ``run_shell`` goes through a shell, and only
for commands the user wrote as shell text (checks, setup commands).

Every child runs in its own process group, so a timeout kills the whole tree it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import ExternalError

log = logging.getLogger(__name__)

TAIL_LINES = 20
TAIL_CHARS = 2000


@dataclass(frozen=True)
class Completed:
    """A finished command: its argv, exit code and output."""

    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def tail(text: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines (at most ``chars`` characters) of ``text``."""
    kept = "\n".join(text.rstrip("\n").splitlines()[-lines:])
    return kept if len(kept) <= chars else "…" + kept[-chars:]


class CommandFailed(ExternalError):
    """An external command exited non-zero or timed out; carries the command and its output."""

    def __init__(self, argv: Sequence[str], code: int | None, stdout: str, stderr: str, *,
                 timeout: float | None = None, cwd: str | None = None, hint: str | None = None) -> None:
        self.argv = tuple(argv)
        self.exit_status = code  # (``code`` is the error's JSON code, inherited)
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timeout is not None
        command = shlex.join(self.argv)
        if timeout is not None:
            head = f"command timed out after {timeout:g}s: {command}"
        else:
            head = f"command failed with exit code {code}: {command}"
        parts = [head]
        if cwd:
            parts.append(f"  in: {cwd}")
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            if text.strip():
                parts.append(f"  {name} (last lines):\n" + "\n".join("    " + ln for ln in tail(text).splitlines()))
        super().__init__("\n".join(parts), hint=hint)


def run(argv: Sequence[str | os.PathLike[str]], *, cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None, timeout: float | None = None, check: bool = True,
        input: str | None = None, pass_fds: Sequence[int] = ()) -> Completed:
    """Run ``argv`` (no shell), capture text output. ``env`` replaces the environment when given;
    ``pass_fds`` stay open in the child (e.g. a lock it must hold for as long as it runs).

    Raises CommandFailed on a non-zero exit (when ``check``) or a timeout (always; the process group is
    killed), and ExternalError when the program cannot be started."""
    args = [os.fspath(a) for a in argv]
    where = os.fspath(cwd) if cwd is not None else None
    log.debug("run %s (cwd=%s)", shlex.join(args), where)
    try:
        proc = subprocess.Popen(
            args, cwd=where, env=dict(env) if env is not None else None, text=True, encoding="utf-8",
            errors="replace", stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, pass_fds=tuple(pass_fds),
        )
    except FileNotFoundError as exc:
        missing = args[0] if not where or Path(where).is_dir() else where
        raise ExternalError(f"cannot run {shlex.join(args)}: {missing} not found",
                            hint=f"is {args[0]} installed and on PATH?") from exc
    except OSError as exc:
        raise ExternalError(f"cannot run {shlex.join(args)}: {exc}") from exc
    try:
        stdout, stderr = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild left the group and holds the pipes open
            proc.kill()
            proc.wait()
            stdout, stderr = "", ""
        raise CommandFailed(args, None, stdout or "", stderr or "", timeout=timeout, cwd=where) from exc
    except BaseException:  # KeyboardInterrupt: do not leave the child running
        _kill_group(proc)
        proc.wait()
        raise
    result = Completed(tuple(args), proc.returncode, stdout, stderr)
    if check and result.code != 0:
        raise CommandFailed(args, result.code, stdout, stderr, cwd=where)
    return result


def run_detaching(argv: Sequence[str], *, timeout: float) -> Completed:
    """Run a command whose parent exits and leaves a daemon behind (``ssh -f``): wait for the parent only. Its
    output goes through a temporary file, so the daemon keeping that file open never blocks the wait; the
    daemon lives in a session of its own and is not ended here."""
    import tempfile

    args = [os.fspath(a) for a in argv]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        try:
            child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True)
        except OSError as exc:
            raise ExternalError(f"cannot run {shlex.join(args)}: {exc}") from exc
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(child)
            child.wait()
            raise CommandFailed(args, None, "", "", timeout=timeout) from exc
        out.seek(0)
        return Completed(tuple(args), code, out.read(), "")


def run_shell(command: str, *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
              timeout: float | None = None, check: bool = True, input: str | None = None) -> Completed:
    """Run a user-written shell command with ``/bin/sh -c`` (never the user's login shell)."""
    return run(["/bin/sh", "-c", command], cwd=cwd, env=env, timeout=timeout, check=check, input=input)


def which(name: str, path: str | None = None) -> str | None:
    """The full path of an executable on PATH (or ``path``), or None."""
    return shutil.which(name, path=path)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
