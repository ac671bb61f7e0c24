"""tmux adapter on a private socket: sessions, window commands, exit status, env, snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime.tmux import SessionSpec, Tmux, agent_env, bin_dir, safe_session_name

pytestmark = pytest.mark.tmux


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> None:  # generous: a loaded machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def _tmux_sessions(socket: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"],
                         capture_output=True, text=True)
    return sorted(out.stdout.split())


def test_requires_a_socket_name() -> None:
    with pytest.raises(ExternalError, match="socket name"):
        Tmux("")


def test_no_server_means_empty(tmux_socket: str) -> None:
    tmux = Tmux(tmux_socket)
    assert tmux.snapshot() == {}
    assert tmux.list_sessions() == []
    assert tmux.has_session("x") is False
    assert tmux.kill_session("x") is False


def test_ensure_creates_then_adopts(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    first = tmux.ensure_session("mw-T1-a", tmp_path, {}, "sleep 30")
    assert first.created and first.pane_pid
    second = tmux.ensure_session("mw-T1-a", tmp_path, {}, "sleep 30")
    assert (second.created, second.pane_pid) == (False, first.pane_pid)
    assert tmux.list_sessions() == ["mw-T1-a"]
    assert tmux.has_session("mw-T1-a") and not tmux.has_session("mw-T1")  # exact names only


def test_command_runs_as_window_command_with_env_and_exit_status(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    out = tmp_path / "env.txt"
    env = {"METAWSM_RUN": "run-1", "METAWSM_ATTEMPT": "2", "ODD": "ends with;"}
    command = f'printf "%s|%s|%s|%s" "$METAWSM_RUN" "$ODD" "$PATH" "$(pwd)" > {out}; exit 3;'
    info = tmux.ensure_session("mw-T1-a", tmp_path, env, command)
    assert info.created
    wait_for(lambda: tmux.snapshot()["mw-T1-a"].pane_dead)
    pane = tmux.snapshot()["mw-T1-a"]
    assert pane.exit_status == 3 and pane.pane_pid == info.pane_pid
    run, odd, path, cwd = out.read_text(encoding="utf-8").split("|")
    assert (run, odd, cwd) == ("run-1", "ends with;", str(tmp_path))
    assert path.split(os.pathsep)[0] == bin_dir() == str(Path(sys.executable).parent)
    # the dead pane is kept, so the session is still there and adopted, not recreated
    assert tmux.ensure_session("mw-T1-a", tmp_path, env, command).created is False


def test_immediate_success_exit_is_readable(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    tmux.ensure_session("quick", tmp_path, {}, "true")
    wait_for(lambda: tmux.snapshot()["quick"].pane_dead)
    assert tmux.snapshot()["quick"].exit_status == 0


def test_agent_env_prepends_interpreter_bin() -> None:
    env = agent_env({"PATH": "/usr/bin:/bin", "X": "1"})
    assert env["PATH"] == f"{bin_dir()}{os.pathsep}/usr/bin:/bin" and env["X"] == "1"
    assert agent_env(env)["PATH"] == env["PATH"]  # not prepended twice
    assert agent_env({})["PATH"].split(os.pathsep)[0] == bin_dir()


def test_snapshot_many_sessions_in_one_call(tmux_socket: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tmux = Tmux(tmux_socket)
    for i in range(3):
        tmux.ensure_session(f"s{i}", tmp_path, {}, "sleep 30" if i else "exit 5")
    tmux.new_window("s1", "extra", "sleep 30", tmp_path, {})
    calls: list[tuple[object, ...]] = []
    real = tmux.server.cmd

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tmux.server, "cmd", counting)
    wait_for(lambda: tmux.snapshot()["s0"].pane_dead)
    calls.clear()
    snap = tmux.snapshot()
    assert len(calls) == 1 and calls[0][0] == "list-panes"
    assert sorted(snap) == ["s0", "s1", "s2"]
    assert snap["s0"].exit_status == 5 and not snap["s1"].pane_dead and snap["s1"].exit_status is None
    assert snap["s1"].window_name == "agent"  # the first window, not the extra one
    assert snap["s2"].current_command in ("sh", "sleep") and snap["s2"].activity > time.time() - 60
    assert len(tmux.snapshot_panes()) == 4
    assert snap["s1"].to_json()["session"] == "s1"


def test_start_many_batches_and_adopts(tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmux = Tmux(tmux_socket)
    tmux.ensure_session("agent-00", tmp_path, {}, "sleep 30")
    calls: list[tuple[object, ...]] = []
    real = tmux.server.cmd

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tmux.server, "cmd", counting)
    specs = [SessionSpec(f"agent-{i:02d}", str(tmp_path), {"METAWSM_AGENT": f"a{i}"}, "sleep 30")
             for i in range(45)]
    infos = tmux.start_many(specs)
    assert len(calls) == 1 + 3  # one snapshot, then 44 new sessions in batches of 20
    assert [i.name for i in infos] == [s.name for s in specs]
    assert infos[0].created is False and all(i.created for i in infos[1:])
    snap = tmux.snapshot()
    assert len(snap) == 45 and all(snap[i.name].pane_pid == i.pane_pid for i in infos)
    again = tmux.start_many(specs)
    assert not any(i.created for i in again)


def test_capture_pane_and_kill_only_named(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    tmux.ensure_session("keep", tmp_path, {}, "sleep 30")
    tmux.ensure_session("talk", tmp_path, {}, "for i in 1 2 3 4 5; do echo line $i; done; sleep 30")
    wait_for(lambda: "line 5" in tmux.capture_pane("talk"))
    assert tmux.capture_pane("talk", lines=2).splitlines() == ["line 4", "line 5"]
    assert tmux.kill_session("talk") is True
    assert _tmux_sessions(tmux_socket) == ["keep"]
    assert tmux.kill_session("talk") is False


def test_new_window_runs_command_and_keeps_status(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    tmux.ensure_session("main", tmp_path, {}, "sleep 30")
    out = tmp_path / "w.txt"
    window = tmux.new_window("main", "shell:lint", f'echo "$STEP" | tee {out}; exit 9', tmp_path, {"STEP": "lint"})
    assert window.window_id.startswith("@")
    wait_for(lambda: {p.window_id: p for p in tmux.snapshot_panes()}[window.window_id].pane_dead)
    panes = {p.window_id: p for p in tmux.snapshot_panes()}
    assert panes[window.window_id].exit_status == 9
    assert out.read_text(encoding="utf-8").strip() == "lint"
    wait_for(lambda: "lint" in tmux.capture_pane("main", window=window.window_id))
    assert "lint" not in tmux.capture_pane("main")  # the session's first window is another pane


def test_bad_cwd_is_an_external_error(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    with pytest.raises(ExternalError):
        tmux.new_window("nosuch", "w", "true", tmp_path, {})


def test_session_names_tmux_would_rewrite_are_refused(tmux_socket: str, tmp_path: Path) -> None:
    assert safe_session_name("mw.run:T-1 a") == "mw_run_T-1_a"
    assert safe_session_name("=x") == "x"
    tmux = Tmux(tmux_socket)
    with pytest.raises(ExternalError, match="would rename"):
        tmux.ensure_session("a.b", tmp_path, {}, "sleep 1")
    with pytest.raises(ExternalError, match="would rename"):
        tmux.start_many([SessionSpec("ok", str(tmp_path)), SessionSpec("x:y", str(tmp_path))])
    assert tmux.list_sessions() == []
    info = tmux.ensure_session(safe_session_name("a.b"), tmp_path, {}, None)  # no command: default shell
    assert tmux.list_sessions() == ["a_b"] and info.created


def test_respawn_restarts_the_agent_command(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    tmux.ensure_session("agent", tmp_path, {"METAWSM_ATTEMPT": "1"}, "exit 2")
    wait_for(lambda: tmux.snapshot()["agent"].pane_dead)
    out = tmp_path / "attempt.txt"
    pid = tmux.respawn("agent", tmp_path, {"METAWSM_ATTEMPT": "2"}, f'echo "$METAWSM_ATTEMPT" > {out}; exit 0')
    assert pid
    wait_for(lambda: out.exists() and tmux.snapshot()["agent"].pane_dead)
    assert out.read_text(encoding="utf-8").strip() == "2"
    assert tmux.snapshot()["agent"].exit_status == 0
    with pytest.raises(ExternalError):
        tmux.respawn("missing", tmp_path, {}, "true")
