from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from metawsm.forum import Forum
from metawsm.forum.log import EventLog

HUMAN = {"actor_type": "human", "actor_name": "alice"}


def _activity(f: Forum) -> None:
    a = f.open_thread("ABC-1", "Database choice", "sqlite or pg?", priority="high", run_id="r1", **HUMAN)
    b = f.open_thread("XYZ-9", "Another", "body", actor_type="agent", actor_name="bot")
    f.post(a.thread_id, "more detail", actor_type="agent", actor_name="bot")
    f.assign(a.thread_id, "human", "bob", note="db expert", **HUMAN)
    f.set_state(b.thread_id, "triaged", **HUMAN)
    f.set_priority(b.thread_id, "low", **HUMAN)
    f.answer(a.thread_id, "sqlite", **HUMAN)
    f.mark_seen(a.thread_id, "human", "alice")
    f.signal("r1", "ABC-1", "a1", 1, "guidance_request", question="q?")
    f.answer(f.control_thread_id("r1", "a1"), "answer", **HUMAN)
    f.signal("r1", "ABC-1", "a1", 1, "completion", summary="done")
    f.signal("r1", "ABC-1", "a1", 2, "validation", status="passed", done_criteria="t", sha="abc1234")
    f.close(b.thread_id, **HUMAN)


def test_rebuild_equals_incremental_index(forum: Forum, dump) -> None:
    _activity(forum)
    incremental = dump(forum.index.path)
    assert incremental["events"] and incremental["search"]
    count = forum.reindex()
    assert count == len(incremental["events"])
    assert dump(forum.index.path) == incremental
    # and an index built by a fresh reader catching up in one go
    forum.index.path.unlink()
    fresh = Forum(forum.dir)
    fresh.list_threads()
    assert dump(fresh.index.path) == incremental


@pytest.mark.parametrize("opened_cap", [200_000, 0])
def test_rebuild_in_small_chunks_equals_incremental(forum: Forum, dump, monkeypatch, opened_cap: int) -> None:
    """A few events per rebuild chunk: threads touched again several chunks after they were opened; with
    a cap of 0 the rebuild forgets the thread ids it has seen after every chunk and asks the threads table."""
    from metawsm.forum import bulk

    _activity(forum)
    ids = [forum.open_thread(f"T-{i % 3}", f"t{i}", "b", **HUMAN).thread_id for i in range(6)]
    for i in range(30):
        forum.post(ids[(i * 7) % 6], f"post {i}", **HUMAN)
        if i % 10 == 9:
            forum.set_state(ids[i % 6], "triaged", **HUMAN)
    incremental = dump(forum.index.path)
    monkeypatch.setattr(bulk, "CHUNK", 700)  # a few events per chunk
    monkeypatch.setattr(bulk, "OPENED_CAP", opened_cap)
    assert forum.reindex() == len(incremental["events"])
    assert dump(forum.index.path) == incremental


def test_log_lines_are_the_envelope(forum: Forum) -> None:
    _activity(forum)
    lines = forum.log.path.read_bytes().splitlines()
    events = [orjson.loads(x) for x in lines]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    keys = ["sequence", "event_id", "event_type", "event_version", "occurred_at", "thread_id", "ticket",
            "run_id", "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id",
            "idempotency_key", "payload"]
    assert all(list(e) == keys for e in events)
    assert all(len(e["event_id"]) == 26 and e["occurred_at"].endswith("Z") for e in events)
    signal = next(e for e in events if e["event_type"] == "forum.control.signal")
    assert signal["payload"]["schema_version"] == 1 and signal["payload"]["attempt"] == 1


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage", "wal_garbage"])
def test_index_heals(forum: Forum, dump, damage: str) -> None:
    _activity(forum)
    good = dump(forum.index.path)
    forum.shutdown()
    db = forum.index.path
    if damage == "deleted":
        db.unlink()
    elif damage == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        Path(f"{db}-wal").write_bytes(b"not a wal" * 100)
    again = Forum(forum.dir)
    assert len(again.list_threads()) == 3
    assert dump(db) == good


def test_torn_tail_is_ignored_by_readers_and_repaired_by_the_next_append(forum: Forum) -> None:
    t = forum.open_thread("ABC-1", "T", "b", **HUMAN)
    with forum.log.path.open("ab") as fh:
        fh.write(b'{"sequence": 2, "event_id": "torn')
    assert len(Forum(forum.dir).events()[0]) == 1
    forum.post(t.thread_id, "after", **HUMAN)
    lines = forum.log.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and [orjson.loads(x)["sequence"] for x in lines[:-1]] == [1, 2]


@pytest.mark.parametrize(("bad", "why"), [(b"\xff\xfe not utf8", "not UTF-8"), (b"{nope", "not JSON"),
                                          (b"[1, 2]", "not a JSON object"),
                                          (b'{"sequence": 3}', "event_id missing"),
                                          (b'{"sequence": 9223372036854775808}', "no valid sequence")])
def test_corrupt_line_mid_log_is_skipped_and_reported(forum: Forum, bad: bytes, why: str) -> None:
    """Issue 15: a bad line (`{"sequence": 3}` gave KeyError, a huge sequence OverflowError) is skipped
    and reported with its line and byte offset; every other event is still read and writes go on."""
    for i in range(3):
        forum.open_thread("ABC-1", f"T{i}", "b", **HUMAN)
    forum.shutdown()
    lines = forum.log.path.read_bytes().split(b"\n")
    offset = len(lines[0]) + 1
    lines[1] = bad
    forum.log.path.write_bytes(b"\n".join(lines))
    forum.index.path.unlink()
    f = Forum(forum.dir)
    assert sorted(t.title for t in f.list_threads()) == ["T0", "T2"]
    count, problems = f.log.scan()
    assert count == 2 and [(p.line, p.offset) for p in problems] == [(2, offset)]
    assert why in problems[0].why
    assert f.reindex() == 2
    t = f.open_thread("ABC-1", "T3", "b", **HUMAN)
    assert t.last_event_sequence == 4 and len(f.list_threads()) == 3


def test_batch_append_is_one_write(tmp_path: Path) -> None:
    from metawsm.forum import threads

    def env(i: int) -> dict[str, object]:
        return threads.envelope("forum.post.added", {"thread_id": f"t-{i}", "ticket": "ABC-1"}, {"n": i},
                                actor_type="human", actor_name="me")

    log = EventLog(tmp_path / "events.jsonl")
    out = log.append([env(i) for i in range(1000)])
    assert [e["sequence"] for e in out] == list(range(1, 1001))
    assert log.last_sequence() == 1000
    assert log.append([env(1000)])[0]["sequence"] == 1001
    chunks = list(log.read(0, 0, limit_bytes=4096))
    assert sum(len(c[0]) for c in chunks) == 1001 and chunks[-1][2] == 1001


def test_forum_append_batch_indexes(forum: Forum) -> None:
    from metawsm.forum import threads

    head = {"thread_id": "t-1", "ticket": "ABC-1", "run_id": None, "agent_name": None}
    envs = [threads.envelope("forum.thread.opened", head, {"title": "x", "body": "y", "priority": "normal"},
                             **HUMAN)]
    envs += [threads.envelope("forum.post.added", head, {"body": f"p{i}"}, **HUMAN) for i in range(99)]
    out = forum.append_batch(envs)
    assert out[-1].sequence == 100
    assert forum.get_thread("t-1")[0].posts_count == 100


def test_every_logged_event_matches_event_schema(forum: Forum) -> None:
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "event.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    _activity(forum)
    v = Draft202012Validator(schema)
    for line in forum.log.path.read_bytes().splitlines():
        assert not list(v.iter_errors(orjson.loads(line)))
