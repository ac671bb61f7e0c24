"""A respawned pane is never taken for exited by its previous command's late exit record (real tmux).

The window wrapper (runtime/tmux_args.py) records the command's exit code in the pane option `@metawsm_exit`
through a tmux client. `respawn-pane -k` keeps the pane (its id), so a client of the old command that delivers
the record just after a respawn wrote it onto the new command's live pane: the new agent attempt looked exited
("exited with status 0 before signalling completion"), was failed and retried — attempt 3 instead of 2 after
one restart. Here the old wrapper's tmux client is a slow one (tests/runtime/slowtmux.py: it waits for the test's
go-ahead, then runs the real tmux), which makes that interleaving certain instead of a matter of load."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from metawsm.runtime.tmux import Tmux
from metawsm.runtime.tmux_panes import recorded_exit
from tests.runtime import slowtmux

pytestmark = pytest.mark.tmux


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_late_exit_record_of_the_old_command_leaves_the_respawned_pane_alive(tmux_socket: str,
                                                                             tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    release = tmp_path / "release"
    tmux.tmux_bin = str(slowtmux.write(tmp_path / "bin", release))  # the wrapper records exit codes with it
    inner_done = tmp_path / "inner-done"
    tmux.ensure_session("mw-R-1-impl", tmp_path, {}, f"touch {inner_done}")
    wait_for(inner_done)  # the first command ended; its wrapper's record is on its way
    pid = tmux.respawn("mw-R-1-impl", tmp_path, {}, "sleep 120")
    (release / "x-0").touch()  # the old record arrives now, after the respawn
    wait_for(release / "x-0.done")
    pane = tmux.snapshot()["mw-R-1-impl"]
    assert pane.pane_pid == pid
    assert not pane.pane_dead and pane.exit_status is None  # the new command runs
    # and the new command's own exit is still read (its record carries its own pid)
    tmux.respawn("mw-R-1-impl", tmp_path, {}, "exit 7")
    deadline = time.monotonic() + 30
    while not (pane := tmux.snapshot()["mw-R-1-impl"]).pane_dead:
        assert time.monotonic() < deadline, "the pane never showed its command's exit"
        time.sleep(0.05)
    assert pane.exit_status == 7


def test_recorded_exit_keeps_only_the_current_process_code() -> None:
    assert recorded_exit("3:41", 41) == 3
    assert recorded_exit("0:40", 41) is None  # written by the process the respawn replaced
    assert recorded_exit("0:40", None) is None
    assert recorded_exit("5", 41) == 5  # an older wrapper's record (no pid)
    assert recorded_exit("", 41) is None
    assert recorded_exit("x:41", 41) is None


def test_pane_pid_is_the_wrapper_pid(tmux_socket: str, tmp_path: Path) -> None:
    """The record's pid ($$ of the wrapper) is the pane's pid, with the /usr/bin/env prefix that sets PATH too."""
    tmux = Tmux(tmux_socket)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    tmux.ensure_session("mw-R-2-impl", tmp_path, env, "exit 4")
    deadline = time.monotonic() + 30
    while not (pane := tmux.snapshot()["mw-R-2-impl"]).pane_dead:
        assert time.monotonic() < deadline, "the pane never showed its command's exit"
        time.sleep(0.05)
    recorded = tmux._query("show-options", "-p", "-v", "-t", "=mw-R-2-impl:^", "@metawsm_exit")
    assert recorded == [f"4:{pane.pane_pid}"] and pane.exit_status == 4
