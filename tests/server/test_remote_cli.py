"""`--server URL` / METAWSM_SERVER: forum and signal commands over HTTP print what they print locally."""

from __future__ import annotations

import json
from typing import Any

import pytest

from metawsm.config.project import Project
from metawsm.forum import Forum


@pytest.fixture
def server(live: Any) -> Any:
    with live() as s:
        yield s


def test_same_output_as_local(proj: Project, forum: Forum, server: Any, cli: Any,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    t = forum.open_thread("T-1", "Which database?", "postgres or sqlite", actor_type="human", actor_name="alice")
    forum.post(t.thread_id, "sqlite is enough", actor_type="agent", actor_name="T-1/writer")
    for argv in (["forum", "list"], ["forum", "thread", t.thread_id], ["forum", "list", "--json"],
                 ["forum", "thread", t.thread_id, "--json"], ["forum", "stats"], ["forum", "search", "database"],
                 ["forum", "queue", "unanswered"], ["forum", "watch", "--once"]):
        local = cli(*argv, cwd=proj.root)
        remote = cli(*argv, "--server", server.url, cwd=proj.root)
        assert (remote.code, remote.out) == (local.code, local.out), argv
    monkeypatch.setenv("METAWSM_SERVER", server.url)
    missing = cli("forum", "thread", "nope", cwd=proj.root)
    monkeypatch.delenv("METAWSM_SERVER")
    assert (missing.code, missing.err) == (lambda r: (r.code, r.err))(cli("forum", "thread", "nope", cwd=proj.root))


def test_writes_and_signal_over_http(proj: Project, forum: Forum, server: Any, cli: Any) -> None:
    url = ["--server", server.url]
    r = cli("forum", "ask", "--ticket", "T-1", "--title", "Hi", "--body", "there", "--json", *url, cwd=proj.root)
    tid = json.loads(r.out)["thread"]["thread_id"]
    assert cli("forum", "post", tid, "--body", "more", *url, cwd=proj.root).code == 0
    assert cli("forum", "priority", tid, "high", *url, cwd=proj.root).code == 0
    assert cli("forum", "assign", tid, "--to", "human:bob", *url, cwd=proj.root).code == 0
    assert cli("forum", "seen", tid, "--viewer", "human:bob", *url, cwd=proj.root).code == 0
    illegal = cli("forum", "state", tid, "bogus", *url, cwd=proj.root)
    assert illegal.code == 2 and "bogus" in illegal.err
    assert cli("forum", "close", tid, *url, cwd=proj.root).code == 0
    closed = cli("forum", "post", tid, "--body", "late", *url, cwd=proj.root)
    assert closed.code == 1 and "closed" in closed.err
    t, posts, _ = forum.get_thread(tid)
    assert (t.state, t.priority, t.assignee_name, len(posts)) == ("closed", "high", "bob", 2)
    r = cli("signal", "guidance-request", "--question", "Port?", "--run", "R1", "--ticket", "T-1",
            "--agent", "writer", "--attempt", "1", *url, cwd=proj.root)
    assert r.code == 0 and "guidance_request recorded" in r.out
    assert forum.control_state("R1", "T-1/writer", 1).pending_question == "Port?"
    answered = cli("forum", "answer", "fctrl-r1-t-1-writer", "--body", "8080", *url, cwd=proj.root)
    assert answered.code == 0
    assert forum.control_state("R1", "T-1/writer", 1).last_answer[0] == "8080"  # type: ignore[index]
    assert cli("forum", "reindex", *url, cwd=proj.root).code == 2


def test_unreachable_server(proj: Project, cli: Any) -> None:
    r = cli("forum", "list", "--server", "http://127.0.0.1:9", cwd=proj.root)
    assert r.code == 1 and "cannot reach the metawsm server" in r.err
