"""The Runtime protocol on its `local` (tmux) backend: labels, repository scoping, send/capture, transcripts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metawsm.errors import UsageError
from metawsm.runtime.base import ForeignSession, Runtime, RuntimeConfig, SessionSpec
from metawsm.runtime.registry import open_runtime
from metawsm.runtime.scope import repo_id
from tests.conftest import git

pytestmark = pytest.mark.tmux


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> None:  # generous: a loaded machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def runtime(socket: str, scope: str, home: str = "") -> Runtime:
    return open_runtime(RuntimeConfig("local", socket, scope, home or f"/repos/{scope}"))


def option(socket: str, session: str, name: str) -> str:
    out = subprocess.run(["tmux", "-L", socket, "show-options", "-v", "-t", f"={session}:", name],
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_sessions_record_their_repository_run_ticket_agent_and_attempt(tmux_socket: str, tmp_path: Path) -> None:
    rt = runtime(tmux_socket, "aaaa1111")
    labels = {"run": "r1", "ticket": "T-1", "agent": "impl"}
    info = rt.create(SessionSpec("s1", str(tmp_path), {}, "sleep 30", labels=labels))
    assert info.created and info.pane_pid
    assert {k: option(tmux_socket, "s1", f"@metawsm_{k}") for k in ("repo", "home", "run", "ticket", "agent")} == {
        "repo": "aaaa1111", "home": "/repos/aaaa1111", "run": "r1", "ticket": "T-1", "agent": "impl"}
    pid = rt.respawn(SessionSpec("s1", str(tmp_path), {}, "sleep 31", labels={**labels, "attempt": "2"}))
    assert pid and pid != info.pane_pid
    assert option(tmux_socket, "s1", "@metawsm_attempt") == "2"
    state = rt.sessions()["s1"]
    assert (state.pid, state.dead, state.labels["repo"], state.labels["attempt"]) == (pid, False, "aaaa1111", "2")
    again = rt.create(SessionSpec("s1", str(tmp_path), {}, "sleep 30", labels=labels))
    assert (again.created, again.pane_pid) == (False, pid)  # adopted: it is this repository's


def test_a_foreign_session_is_never_adopted_typed_into_or_killed(tmux_socket: str, tmp_path: Path) -> None:
    mine, theirs = runtime(tmux_socket, "aaaa1111"), runtime(tmux_socket, "bbbb2222")
    theirs.create(SessionSpec("demo-T-1-impl", str(tmp_path), {}, "sleep 30"))
    spec = SessionSpec("demo-T-1-impl", str(tmp_path), {}, "sleep 30")
    with pytest.raises(ForeignSession, match=r"belongs to /repos/bbbb2222, not to this repository"):
        mine.create(spec)
    with pytest.raises(ForeignSession):
        mine.create_many([spec])
    with pytest.raises(ForeignSession):
        mine.respawn(spec)
    assert mine.respawn_many([spec]) == {}
    with pytest.raises(ForeignSession):
        mine.send("demo-T-1-impl", "echo hi")
    assert mine.kill("demo-T-1-impl") is False
    assert mine.sessions() == {} and not mine.exists("demo-T-1-impl")
    assert list(theirs.sessions()) == ["demo-T-1-impl"]  # untouched, still running
    assert not theirs.sessions()["demo-T-1-impl"].dead
    assert theirs.kill("demo-T-1-impl") is True


def test_an_unlabelled_session_is_foreign(tmux_socket: str, tmp_path: Path) -> None:
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "handmade", "sleep 30"], check=True)
    rt = runtime(tmux_socket, "aaaa1111")
    with pytest.raises(ForeignSession, match="no metawsm repository"):
        rt.create(SessionSpec("handmade", str(tmp_path), {}, "sleep 30"))
    assert rt.kill("handmade") is False


def test_send_capture_and_transcript(tmux_socket: str, tmp_path: Path) -> None:
    rt = runtime(tmux_socket, "aaaa1111")
    rt.create(SessionSpec("chat", str(tmp_path), {}, "cat"))
    transcript = tmp_path / "transcript.log"
    rt.record_output("chat", transcript)
    rt.send("chat", "hello; it's me")  # a trailing ';' and quotes reach the program as typed
    rt.send("chat", "second;")
    wait_for(lambda: "second;" in rt.capture("chat"))
    assert "hello; it's me" in rt.capture("chat")
    assert "hello; it's me" in rt.capture_many(["chat", "gone"])["chat"]
    wait_for(lambda: transcript.exists() and "second;" in transcript.read_text(errors="replace"))
    assert rt.attach_command("chat") == ["tmux", "-L", tmux_socket, "attach-session", "-t", "=chat"]
    assert rt.describe() == f"tmux -L {tmux_socket}"


def test_socket_name_carries_the_repository_id(repo: Path, tmp_path: Path) -> None:
    scope = repo_id(repo)
    rt = open_runtime(RuntimeConfig("local", "metawsm-{repo}", scope, str(repo)))
    assert rt.describe() == f"tmux -L metawsm-{scope}"
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    assert repo_id(tmp_path / "wt") == scope  # every worktree of a repository has the same id
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert repo_id(other) != scope and len(scope) == 8


def test_unknown_backend_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown runtime backend 'nope'"):
        open_runtime(RuntimeConfig("nope"))
