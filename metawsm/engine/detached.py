"""Commands that outlive the metawsm process that started them (checks, shell steps).

The command runs in its own session with output in a log file; when it ends, its exit code is written
atomically next to the log and a `metawsm reconcile` is kicked so the run moves on without a daemon.
A later reconcile (any process) reads the exit file, or sees the pid gone without one (a crash).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from metawsm.state.lease import pid_alive

# $1 cwd, $2 script, $3 log, $4 exit file, $5 python, $6 project root, $7 run id
_WRAPPER = (
    'cd "$1" || { echo "cannot enter $1" > "$3"; echo 97 > "$4.tmp"; mv "$4.tmp" "$4"; exit 97; }\n'
    '/bin/sh -c "$2" > "$3" 2>&1 < /dev/null\n'
    'code=$?\n'
    'echo "$code" > "$4.tmp" && mv "$4.tmp" "$4"\n'
    '[ -n "$5" ] && "$5" -m metawsm -C "$6" reconcile --run "$7" --quiet > /dev/null 2>&1 &\n'
    'exit "$code"\n'
)


@dataclass(frozen=True)
class Status:
    finished: bool
    exit_code: int | None
    alive: bool


def paths(log: Path) -> tuple[Path, Path]:
    return log.with_name(log.name + ".exit"), log.with_name(log.name + ".pid")


def start(script: str, *, cwd: Path, env: dict[str, str], log: Path, project_root: Path | None = None,
          run_id: str = "") -> int:
    """Start `script` (sh syntax) detached; returns its pid."""
    exit_file, pid_file = paths(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    for stale in (exit_file, pid_file):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    kick = sys.executable if project_root is not None and run_id else ""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", _WRAPPER, "metawsm-step", str(cwd), script, str(log), str(exit_file), kick,
         str(project_root or ""), run_id],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )
    pid_file.write_text(str(proc.pid), encoding="utf-8")
    return proc.pid


def _exit_code(exit_file: Path) -> int | None:
    """The recorded exit code, or None while there is none (an unreadable one counts as a failure)."""
    try:
        return int(exit_file.read_text(encoding="utf-8").strip() or "1")
    except FileNotFoundError:
        return None
    except ValueError:
        return 1


def status(log: Path) -> Status:
    exit_file, pid_file = paths(log)
    code = _exit_code(exit_file)
    if code is not None:
        return Status(True, code, False)
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return Status(False, None, False)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # our own child that already exited is a zombie until reaped
    alive = pid_alive(pid)
    if not alive:
        # it writes its exit code before it exits: a command that ended after the first look has one now
        code = _exit_code(exit_file)
        if code is not None:
            return Status(True, code, False)
    return Status(False, None, alive)


def stop(log: Path) -> None:
    """Terminate a detached command's process group (only the one we started: its pid file)."""
    _, pid_file = paths(log)
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 15)


def tail(log: Path, lines: int = 30, chars: int = 4000) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])[-chars:]
