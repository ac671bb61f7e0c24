"""Detached commands (checks, shell steps): their status read by a reconcile while they run and end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from metawsm.engine import detached
from metawsm.state.lease import pid_alive


def _wait(predicate, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_command_that_ends_while_its_status_is_read_is_finished(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """status() finds no exit file, then the command ends (writing it) before the liveness check: it is finished
    with its exit code, not "ended without an exit status" (a check failed that way under load)."""
    go, log = tmp_path / "go", tmp_path / "logs" / "step.log"
    pid = detached.start(f"while [ ! -e {go} ]; do sleep 0.05; done; exit 7", cwd=tmp_path, env=dict(os.environ),
                         log=log)
    exit_file, _ = detached.paths(log)
    assert detached.status(log) == detached.Status(False, None, True)

    def ends_meanwhile(p: int) -> bool:  # the command ends between status()'s two looks
        go.touch()
        _wait(exit_file.exists, "the exit file")
        _wait(lambda: not pid_alive(p) or _reaped(p), "the command to end")
        return pid_alive(p)

    monkeypatch.setattr(detached, "pid_alive", ends_meanwhile)
    assert detached.status(log) == detached.Status(True, 7, False)
    assert not pid_alive(pid)


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def test_a_command_gone_without_an_exit_code_is_not_finished_and_not_alive(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    pid = detached.start("kill -9 $PPID", cwd=tmp_path, env=dict(os.environ), log=log)
    _wait(lambda: _reaped(pid), "the command to be killed")
    assert detached.status(log) == detached.Status(False, None, False)
