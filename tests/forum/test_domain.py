from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from metawsm.errors import ForumError, NotFoundError, StateError, UsageError
from metawsm.forum import Forum

HUMAN = {"actor_type": "human", "actor_name": "alice"}
AGENT = {"actor_type": "agent", "actor_name": "bot"}


def _open(forum: Forum, **kw):
    args = {"priority": "normal", **kw}
    return forum.open_thread("ABC-1", "Title", "first", **args, **AGENT)


class Move(NamedTuple):
    path: tuple[str, ...]
    target: str
    ok: bool


MOVES = [
    Move((), "triaged", True), Move((), "waiting_human", True), Move((), "answered", True),
    Move(("triaged",), "new", False), Move(("triaged",), "waiting_operator", True),
    Move(("waiting_operator",), "waiting_human", True), Move(("waiting_human",), "triaged", True),
    Move(("answered",), "triaged", False), Move(("answered",), "waiting_human", True),
    Move(("answered",), "new", False), Move(("closed",), "new", False), Move(("closed",), "answered", False),
    Move(("triaged",), "triaged", True),
]


@pytest.mark.parametrize("case", MOVES, ids=lambda c: f"{'/'.join(('new', *c.path))}->{c.target}")
def test_transition_table(forum: Forum, case: Move) -> None:
    t = _open(forum)
    for state in case.path:
        forum.set_state(t.thread_id, state, **HUMAN)
    if case.ok:
        assert forum.set_state(t.thread_id, case.target, **HUMAN).state == case.target
    else:
        frm = case.path[-1] if case.path else "new"
        with pytest.raises(StateError, match=f"{frm} -> {case.target}"):
            forum.set_state(t.thread_id, case.target, **HUMAN)


def test_answer_sets_answered_and_emits_docs_sync(forum: Forum) -> None:
    t = _open(forum)
    after = forum.answer(t.thread_id, "use sqlite", **HUMAN)
    assert after.state == "answered" and after.posts_count == 2
    _, posts, events = forum.get_thread(t.thread_id)
    assert [p.body for p in posts] == ["first", "use sqlite"]
    types = [e.event_type for e in events]
    assert types == ["forum.thread.opened", "forum.post.added", "forum.state.changed",
                     "forum.integration.docs_sync.requested"]
    assert events[2].causation_id == events[1].event_id == events[2].correlation_id
    assert events[3].payload["trigger"] == "answered" and events[3].payload["posts_count"] == 2


def test_docs_sync_disabled(forum_dir) -> None:
    f = Forum(forum_dir, docs_sync=False)
    t = f.open_thread("ABC-1", "T", "b", **HUMAN)
    f.answer(t.thread_id, "x", **HUMAN)
    f.close(t.thread_id, **HUMAN)
    assert all("docs_sync" not in e.event_type for e in f.events(0, 100)[0])


def test_closed_thread_refuses_posts_and_close_is_noop(forum: Forum) -> None:
    t = _open(forum)
    closed = forum.close(t.thread_id, **HUMAN)
    assert closed.state == "closed" and closed.closed_at
    n = len(forum.events()[0])
    assert forum.close(t.thread_id, **HUMAN).state == "closed"
    assert len(forum.events()[0]) == n
    for call in (lambda: forum.post(t.thread_id, "x", **HUMAN), lambda: forum.answer(t.thread_id, "x", **HUMAN),
                 lambda: forum.assign(t.thread_id, "human", "bob", **HUMAN),
                 lambda: forum.set_priority(t.thread_id, "high", **HUMAN)):
        with pytest.raises(StateError, match="closed"):
            call()


class Bad(NamedTuple):
    call: str
    error: type
    match: str


BAD = [
    Bad("post_unknown", NotFoundError, "'nope' not found"),
    Bad("huge_body", ForumError, "larger than forum.max_body_bytes"),
    Bad("bad_state", UsageError, "state 'done'"),
    Bad("bad_priority", UsageError, "priority 'asap'"),
    Bad("bad_actor", UsageError, "actor type 'robot'"),
    Bad("empty_body", UsageError, "body is required"),
    Bad("unseen_needs_viewer", UsageError, "needs a viewer"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.call)
def test_bad_input(forum_dir, case: Bad) -> None:
    f = Forum(forum_dir, max_body_bytes=100)
    t = f.open_thread("ABC-1", "T", "b", **HUMAN)
    calls = {
        "post_unknown": lambda: f.post("nope", "x", **HUMAN),
        "huge_body": lambda: f.post(t.thread_id, "é" * 51, **HUMAN),
        "bad_state": lambda: f.set_state(t.thread_id, "done", **HUMAN),
        "bad_priority": lambda: f.set_priority(t.thread_id, "asap", **HUMAN),
        "bad_actor": lambda: f.post(t.thread_id, "x", actor_type="robot", actor_name="r"),
        "empty_body": lambda: f.post(t.thread_id, "  ", **HUMAN),
        "unseen_needs_viewer": lambda: f.queue("unseen"),
    }
    n = f.events()[1]
    with pytest.raises(case.error, match=case.match):
        calls[case.call]()
    assert f.events()[1] == n  # nothing appended


def test_assign_priority_list_order_and_filters(forum: Forum) -> None:
    a = _open(forum, priority="low")
    b = _open(forum)
    c = forum.open_thread("XYZ-2", "Other", "x", priority="urgent", run_id="r1", **HUMAN)
    forum.assign(b.thread_id, "human", "bob", note="yours", **HUMAN)
    forum.set_priority(a.thread_id, "high", **HUMAN)
    assert [t.thread_id for t in forum.list_threads()] == [c.thread_id, a.thread_id, b.thread_id]
    assert [t.thread_id for t in forum.list_threads(assignee="human:bob")] == [b.thread_id]
    assert [t.thread_id for t in forum.list_threads(ticket="XYZ-2")] == [c.thread_id]
    assert [t.thread_id for t in forum.list_threads(run_id="r1", priority="urgent")] == [c.thread_id]
    assert forum.list_threads(limit=1)[0].thread_id == c.thread_id
    stats = {(s.ticket, s.state, s.priority): s.thread_count for s in forum.stats()}
    assert stats == {("ABC-1", "new", "high"): 1, ("ABC-1", "new", "normal"): 1, ("XYZ-2", "new", "urgent"): 1}


def test_queues_and_seen(forum: Forum) -> None:
    t = _open(forum)  # opened by an agent: unanswered
    viewer = {"viewer_type": "human", "viewer_id": "alice"}
    assert [x.thread_id for x in forum.queue("unanswered")] == [t.thread_id]
    assert [x.is_unseen for x in forum.queue("unseen", **viewer)] == [True]
    mark = forum.mark_seen(t.thread_id, "human", "alice")
    assert mark.last_seen_event_sequence == t.last_event_sequence
    assert forum.queue("unseen", **viewer) == []
    assert forum.mark_seen(t.thread_id, "human", "alice", sequence=0).last_seen_event_sequence == mark.last_seen_event_sequence
    forum.post(t.thread_id, "answering", **HUMAN)
    assert forum.queue("unanswered") == []
    assert len(forum.queue("unseen", **viewer)) == 1
    assert forum.list_threads(viewer_type="human", viewer_id="alice")[0].is_unseen


def test_search_ranks_title_hits_first(forum: Forum) -> None:
    a = forum.open_thread("ABC-1", "Database choice", "which one", **HUMAN)
    b = forum.open_thread("ABC-1", "Other", "about the database layer", **HUMAN)
    forum.open_thread("ABC-1", "Unrelated", "nothing", **HUMAN)
    assert [t.thread_id for t in forum.search("database")] == [a.thread_id, b.thread_id]
    assert [t.thread_id for t in forum.search("datab")] == [a.thread_id, b.thread_id]
    assert forum.search('"; DROP TABLE threads; --') == []
    assert forum.search("   ") == []


def test_a_one_word_ascii_search_folds_accents_like_a_longer_one(forum: Forum) -> None:
    # one ASCII word once skipped the word index (its substring matches seemed to include every word-prefix
    # match), so `premiere` missed `Première` while `premiere question` found it
    t = forum.open_thread("ABC-1", "Première question", "où est la base de données ?", **HUMAN)
    forum.open_thread("ABC-1", "Other", "nothing", **HUMAN)
    for query in ("premiere", "Premi", "premiere question", "donnees", "base"):
        assert [x.thread_id for x in forum.search(query)] == [t.thread_id], query
    assert [x.thread_id for x in forum.search("ère")] == [t.thread_id]  # a substring, accent and all


def test_idempotent_open_and_events_cursor(forum: Forum) -> None:
    t1 = forum.open_thread("ABC-1", "T", "b", idempotency_key="k1", **HUMAN)
    t2 = forum.open_thread("ABC-1", "T", "b", idempotency_key="k1", **HUMAN)
    assert t1.thread_id == t2.thread_id
    forum.post(t1.thread_id, "x", **HUMAN)
    events, cursor = forum.events(0, 1)
    assert [e.sequence for e in events] == [1] and cursor == 1
    events, cursor = forum.events(cursor, 10)
    assert [e.sequence for e in events] == [2] and cursor == 2
    assert forum.events(cursor, 10) == ([], 2)
    assert forum.events(0, 10, ticket="NOPE-1") == ([], 0)


def test_escalations(forum_dir) -> None:
    f = Forum(forum_dir, sla_minutes=30)
    urgent = f.open_thread("ABC-1", "Urgent", "b", priority="urgent", run_id="r1", **HUMAN)
    old = f.open_thread("ABC-1", "Old", "b", run_id="r1", **HUMAN)
    answered = f.open_thread("ABC-1", "Done", "b", priority="high", run_id="r1", **HUMAN)
    f.answer(answered.thread_id, "x", **HUMAN)
    f.signal("r1", "ABC-1", "a1", 1, "guidance_request", question="q")  # control threads never escalate
    now = datetime.now(UTC)
    assert [(e.thread.thread_id, e.reason) for e in f.escalations(run_id="r1", now=now)] == [
        (urgent.thread_id, "priority")]
    later = {e.thread.thread_id: e.reason for e in f.escalations(run_id="r1", now=now + timedelta(minutes=31))}
    assert later == {urgent.thread_id: "priority", old.thread_id: "sla"}
