"""Forum properties: after any sequence of operations the index rebuilt from the log equals the
incremental one; random control payloads are refused with a named field or round-trip identically
through log → index → API JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metawsm.errors import MetawsmError
from metawsm.forum import Forum
from tests.forum.conftest import _dump

pytestmark = pytest.mark.fuzz
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ACTORS = st.sampled_from([("human", "alice"), ("agent", "T-1/a"), ("operator", "op"), ("system", "metawsm")])
STATES = st.sampled_from(["new", "triaged", "waiting_operator", "waiting_human", "answered", "closed", "bogus"])
PRIORITIES = st.sampled_from(["low", "normal", "high", "urgent", "p0"])
TEXT = st.text(min_size=0, max_size=40)
OPS = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(["T-1", "T-2"]), TEXT, TEXT, PRIORITIES, ACTORS),
    st.tuples(st.just("post"), st.integers(0, 5), TEXT, ACTORS),
    st.tuples(st.just("answer"), st.integers(0, 5), TEXT, ACTORS),
    st.tuples(st.just("state"), st.integers(0, 5), STATES, ACTORS),
    st.tuples(st.just("priority"), st.integers(0, 5), PRIORITIES, ACTORS),
    st.tuples(st.just("assign"), st.integers(0, 5), ACTORS, ACTORS),
    st.tuples(st.just("close"), st.integers(0, 5), ACTORS),
    st.tuples(st.just("seen"), st.integers(0, 5), st.sampled_from(["human", "agent"]), TEXT),
    st.tuples(st.just("signal"), st.sampled_from(["guidance_request", "guidance_answer", "completion",
                                                   "validation"]), st.integers(1, 3), TEXT),
)


def apply_op(forum: Forum, threads: list[str], op: tuple) -> None:  # type: ignore[type-arg]
    kind = op[0]
    pick = (lambda i: threads[i % len(threads)]) if threads else (lambda i: "fthr-missing")
    if kind == "open":
        _, ticket, title, body, priority, (atype, aname) = op
        threads.append(forum.open_thread(ticket, title, body, priority=priority, actor_type=atype,
                                         actor_name=aname).thread_id)
    elif kind == "post":
        forum.post(pick(op[1]), op[2], actor_type=op[3][0], actor_name=op[3][1])
    elif kind == "answer":
        forum.answer(pick(op[1]), op[2], actor_type=op[3][0], actor_name=op[3][1])
    elif kind == "state":
        forum.set_state(pick(op[1]), op[2], actor_type=op[3][0], actor_name=op[3][1])
    elif kind == "priority":
        forum.set_priority(pick(op[1]), op[2], actor_type=op[3][0], actor_name=op[3][1])
    elif kind == "assign":
        forum.assign(pick(op[1]), op[2][0], op[2][1], actor_type=op[3][0], actor_name=op[3][1])
    elif kind == "close":
        forum.close(pick(op[1]), actor_type=op[2][0], actor_name=op[2][1])
    elif kind == "seen":
        forum.mark_seen(pick(op[1]), op[2], op[3] or "v")
    else:
        _, control, attempt, text = op
        fields = {"guidance_request": {"question": text}, "guidance_answer": {"answer": text},
                  "completion": {"summary": text},
                  "validation": {"status": "passed", "done_criteria": text, "sha": "ab" * 20}}[control]
        forum.signal("run-1", "T-1", "T-1/a", attempt, control, **fields)


@SETTINGS
@given(ops=st.lists(OPS, min_size=1, max_size=25))
def test_rebuilt_index_equals_incremental_after_any_operations(ops: list, tmp_path_factory) -> None:  # type: ignore[type-arg]
    forum = Forum(tmp_path_factory.mktemp("forum") / "forum")
    threads: list[str] = []
    for op in ops:
        try:
            apply_op(forum, threads, op)
        except MetawsmError:
            pass  # refused (illegal transition, closed thread, bad value): refusals write nothing
    forum.list_threads()  # a reader catches the index up (and creates it when every operation was refused)
    incremental = _dump(forum.index.path)
    forum.reindex()
    assert _dump(forum.index.path) == incremental


payloads = st.fixed_dictionaries({}, optional={
    "question": st.one_of(st.none(), TEXT), "context": st.one_of(st.none(), TEXT),
    "answer": st.one_of(st.none(), TEXT), "summary": st.one_of(st.none(), TEXT),
    "status": st.one_of(st.none(), st.sampled_from(["passed", "failed", "PASSED", "ok", ""])),
    "done_criteria": st.one_of(st.none(), TEXT), "sha": st.one_of(st.none(), st.text("0123456789abcdef", max_size=40)),
})


@SETTINGS
@given(control=st.sampled_from(["guidance_request", "guidance_answer", "completion", "validation", "nudge", ""]),
       attempt=st.integers(-1, 3), fields=payloads)
def test_control_payloads_refused_or_round_trip(control: str, attempt: int, fields: dict, tmp_path_factory) -> None:  # type: ignore[type-arg]
    from fastapi.testclient import TestClient

    from metawsm.config.loader import default_policy
    from metawsm.config.project import Project
    from metawsm.server.app import create_app

    root = tmp_path_factory.mktemp("repo")
    project = Project(root)
    forum = Forum(project.forum_dir)
    try:
        event = forum.signal("run-1", "T-1", "T-1/a", attempt, control, **fields)
    except MetawsmError as exc:
        assert exc.exit_code == 2 and exc.message  # refused, naming what is wrong
        assert forum.events()[0] == []
        return
    # the first signal also opens the control thread (and a question moves its state): find its own line
    lines = [json.loads(line) for line in (project.forum_dir / "events.jsonl").read_text().splitlines()]
    (logged,) = [e for e in lines if e["sequence"] == event.sequence]
    (indexed,) = [e for e in forum.events(limit=1000)[0] if e.sequence == event.sequence]
    assert indexed.to_json() == event.to_json()
    assert logged["payload"] == event.to_log()["payload"] and logged["event_type"] == "forum.control.signal"
    with TestClient(create_app(project, default_policy(), worker=False), base_url="http://127.0.0.1") as client:
        api = client.get("/api/v1/forum/events", params={"cursor": 0, "limit": 1000}).json()["events"]
    (served,) = [e for e in api if e["sequence"] == event.sequence]
    assert json.loads(served["payload_json"]) == logged["payload"]


def test_regression_nul_characters_are_refused(tmp_path: Path) -> None:
    """Found by the rebuild property: SQLite stops at NUL, so a rebuilt index differed."""
    forum = Forum(tmp_path / "forum")
    with pytest.raises(MetawsmError, match="NUL character"):
        forum.open_thread("T-1", "title", "a\x00b", actor_type="human", actor_name="h")
    with pytest.raises(MetawsmError, match="title contains a NUL character"):
        forum.open_thread("T-1", "ti\x00tle", "body", actor_type="human", actor_name="h")
    with pytest.raises(MetawsmError, match="NUL character"):
        forum.signal("run-1", "T-1", "T-1/a", 1, "completion", summary="x\x00")


def test_regression_empty_forum_index_equals_rebuild(tmp_path: Path) -> None:
    """Found by the rebuild property: a fresh index recorded no position, a rebuilt one did."""
    forum = Forum(tmp_path / "forum")
    forum.list_threads()
    before = _dump(forum.index.path)
    forum.reindex()
    assert _dump(forum.index.path) == before
