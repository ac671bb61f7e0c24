"""The Go metawsm's API contract, field by field, as its web UI (kball/metawsm `ui/src/App.tsx`) and its
Go client (`internal/serviceapi/remote.go`) read it. Written from the facts of the Go code (field names
and shapes of `internal/model/forum.go`, `forum_bus.go`, `forum_control.go` and `internal/server/*.go`);
no Go code is copied. The run-snapshot contract is in test_api_runs.py (it needs a real run)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metawsm.forum import Forum
from tests.server.conftest import connect

HUMAN = {"actor_type": "human", "actor_name": "alice"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# ForumEnvelope's JSON names (model/forum.go)
ENVELOPE = {"event_id", "event_type", "event_version", "occurred_at", "thread_id", "run_id", "ticket",
            "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id"}


def assert_go_event(e: dict[str, Any]) -> dict[str, Any]:
    """A ForumEvent: {sequence, envelope{…}, payload_json (a JSON text)}; returns the payload."""
    assert set(e) == {"sequence", "envelope", "payload_json"}, e
    assert isinstance(e["sequence"], int) and e["sequence"] >= 1
    env = e["envelope"]
    assert set(env) >= ENVELOPE, ENVELOPE - set(env)
    assert set(env) - ENVELOPE <= {"idempotency_key"}
    assert isinstance(env["event_version"], int) and env["event_version"] == 1
    assert RFC3339.match(env["occurred_at"]), env["occurred_at"]
    for key in ("event_id", "event_type", "thread_id", "ticket", "actor_type"):
        assert isinstance(env[key], str) and env[key]
    assert isinstance(e["payload_json"], str)
    payload = json.loads(e["payload_json"])
    assert isinstance(payload, dict)
    return payload


def open_thread(client: TestClient, **extra: Any) -> dict[str, Any]:
    body = {"ticket": "T-1", "title": "Which database?", "body": "postgres or sqlite", **HUMAN, **extra}
    r = client.post("/api/v1/forum/threads", json=body)
    assert r.status_code == 200, r.text
    return r.json()["thread"]  # type: ignore[no-any-return]


def test_thread_detail_events_have_the_go_shape(client: TestClient) -> None:
    t = open_thread(client, run_id="R1")
    client.post(f"/api/v1/forum/threads/{t['thread_id']}/posts", json={"body": "sqlite", **HUMAN})
    detail = client.get(f"/api/v1/forum/threads/{t['thread_id']}").json()
    assert set(detail) == {"thread", "posts", "events"}
    payloads = [assert_go_event(e) for e in detail["events"]]
    envs = [e["envelope"] for e in detail["events"]]
    assert [e["event_type"] for e in envs] == ["forum.thread.opened", "forum.post.added"]
    assert payloads[0] == {"title": "Which database?", "body": "postgres or sqlite", "priority": "normal"}
    assert payloads[1] == {"body": "sqlite"}
    assert envs[0]["run_id"] == "R1" and envs[0]["actor_name"] == "alice"
    assert envs[0]["correlation_id"] == envs[0]["event_id"]  # Go: the correlation id defaults to the event id
    # the UI joins posts to events by event_id (posts carry Go's Post fields)
    posts = {p["event_id"]: p for p in detail["posts"]}
    assert set(posts) == {e["event_id"] for e in envs}
    for p in detail["posts"]:
        assert {"post_id", "thread_id", "event_id", "author_type", "author_name", "body", "created_at"} <= set(p)


def test_event_feed_has_the_go_shape(client: TestClient, forum: Forum) -> None:
    open_thread(client)
    forum.open_thread("T-2", "other", "b", actor_type="agent", actor_name="T-2/a")
    page = client.get("/api/v1/forum/events", params={"cursor": 0, "limit": 10}).json()
    assert set(page) == {"events", "next_cursor"}
    for e in page["events"]:
        assert_go_event(e)
    assert page["next_cursor"] == page["events"][-1]["sequence"]
    only = client.get("/api/v1/forum/events", params={"ticket": "T-2"}).json()["events"]
    assert [e["envelope"]["ticket"] for e in only] == ["T-2"]


def test_stream_frames_carry_go_events(client: TestClient, forum: Forum) -> None:
    open_thread(client)
    with connect(client, "/api/v1/forum/stream?cursor=0&limit=5") as ws:
        frame = ws.receive_json()
        assert frame["type"] == "forum.events" and isinstance(frame["next_cursor"], int)
        assert RFC3339.match(frame["sent_at"])
        for e in frame["events"]:
            assert_go_event(e)


def test_debug_has_the_go_snapshot_shape(client: TestClient, forum: Forum) -> None:
    t = open_thread(client, run_id="R1")
    forum.signal("R1", "T-1", "T-1/writer", 1, "completion", summary="done")
    r = client.get("/api/v1/forum/debug", params={"limit": 40})
    assert r.status_code == 200, r.text
    d = r.json()["debug"]
    for key in ("generated_at", "outbox", "outbox_messages", "events", "threads", "control_threads", "bus"):
        assert key in d, key
    assert RFC3339.match(d["generated_at"])
    box = d["outbox"]
    for key in ("pending_count", "processing_count", "failed_count", "oldest_pending_age_seconds"):
        assert isinstance(box[key], int), key
    assert box["pending_count"] == 0 and box["failed_count"] == 0  # the index is caught up
    assert d["outbox_messages"] == []
    for e in d["events"]:
        assert_go_event(e)
    assert t["thread_id"] in {x["thread_id"] for x in d["threads"]}
    ctl = d["control_threads"]
    assert [(c["run_id"], c["agent_name"], c["ticket"]) for c in ctl] == [("R1", "T-1/writer", "T-1")]
    assert set(ctl[0]) == {"run_id", "agent_name", "ticket", "thread_id", "created_at", "updated_at"}
    bus = d["bus"]
    assert bus["running"] is True and bus["healthy"] is True  # what the UI's banner reads
    for key in ("stream_name", "consumer_group", "consumer_name"):
        assert isinstance(bus[key], str) and bus[key]
    assert isinstance(bus["handler_topics"], list) and isinstance(bus["subscription_topics"], list)
    topics = {x["topic"]: x for x in bus["topics"]}
    assert topics["forum.thread.opened"]["stream_length"] == 2  # the thread and the control thread
    assert topics["forum.control.signal"]["stream_length"] == 1
    for x in bus["topics"]:
        for key, kind in (("stream", str), ("handler_registered", bool), ("subscribed", bool),
                          ("stream_exists", bool), ("stream_length", int), ("consumer_group_present", bool),
                          ("consumer_group_pending", int), ("consumer_group_lag", int)):
            assert isinstance(x[key], kind), (key, x)
    scoped = client.get("/api/v1/forum/debug", params={"ticket": "T-9", "run_id": "R9"}).json()["debug"]
    assert (scoped["ticket"], scoped["run_id"], scoped["threads"], scoped["control_threads"]) == ("T-9", "R9", [], [])


def test_debug_outbox_counts_the_index_lag(client: TestClient, forum: Forum) -> None:
    """Events in the log that the index has not read yet are the 'pending outbox'."""
    import orjson

    open_thread(client)
    head = client.get("/api/v1/forum/events").json()["next_cursor"]
    line = {"sequence": head + 1, "event_id": "01HAND", "event_type": "forum.thread.opened", "event_version": 1,
            "occurred_at": "2026-01-01T00:00:00Z", "thread_id": "fthr-hand", "ticket": "T-1", "run_id": None,
            "agent_name": None, "actor_type": "human", "actor_name": "h", "correlation_id": "c",
            "causation_id": None, "idempotency_key": None, "payload": {"title": "t", "body": "b"}}
    with forum.log.path.open("ab") as fh:  # written behind the index's back
        fh.write(orjson.dumps(line) + b"\n")
    hub = client.app.state.hub  # type: ignore[attr-defined]
    import time

    deadline = time.monotonic() + 10
    while hub.head <= head and time.monotonic() < deadline:
        time.sleep(0.02)
    d = client.get("/api/v1/forum/debug").json()["debug"]
    assert d["outbox"]["pending_count"] == 1 and "oldest_pending_at" in d["outbox"]
    health = client.get("/api/v1/health").json()
    assert health["outbox"]["pending_count"] == 0  # the debug call's reads caught the index up


def test_seen_marks_are_rows_not_events(client: TestClient, forum: Forum) -> None:
    t = open_thread(client)
    before = client.get("/api/v1/forum/events").json()["next_cursor"]
    r = client.post(f"/api/v1/forum/threads/{t['thread_id']}/seen",
                    json={"viewer_type": "human", "viewer_id": "human:operator", "last_seen_event_sequence": 0})
    seen = r.json()["seen"]
    assert set(seen) == {"thread_id", "viewer_type", "viewer_id", "last_seen_event_sequence", "updated_at"}
    assert seen["last_seen_event_sequence"] == t["last_event_sequence"]
    assert client.get("/api/v1/forum/events").json()["next_cursor"] == before  # no event written
    detail = client.get(f"/api/v1/forum/threads/{t['thread_id']}").json()
    assert detail["thread"]["last_event_sequence"] == t["last_event_sequence"]
    assert len(detail["events"]) == 1
    viewer = {"viewer_type": "human", "viewer_id": "human:operator"}
    assert client.get("/api/v1/forum/queues", params={"type": "unseen", **viewer}).json()["threads"] == []
    forum.reindex()  # the index is a cache; the marks are not in it
    forum.index.path.unlink()
    assert client.get("/api/v1/forum/queues", params={"type": "unseen", **viewer}).json()["threads"] == []
    listed = client.get("/api/v1/forum/search", params={"query": "", **viewer}).json()["threads"]
    assert [x["is_unseen"] for x in listed] == [False]


def test_search_matches_substrings_and_honours_cursor(client: TestClient, forum: Forum) -> None:
    a = open_thread(client, title="Database choice", body="which engine")
    b = open_thread(client, title="Cache", body="use a key-value store like redis")
    c = open_thread(client, title="Unrelated", body="nothing")

    def ids(**params: Any) -> list[str]:
        return [t["thread_id"] for t in client.get("/api/v1/forum/search", params=params).json()["threads"]]

    assert ids(query="atabase") == [a["thread_id"]]  # inside a word (Go: LIKE '%q%')
    assert ids(query="ATABASE CH") == [a["thread_id"]]  # case-insensitive, across words
    assert ids(query="alue sto") == [b["thread_id"]]  # in a post body
    assert ids(query="datab") == [a["thread_id"]]  # word prefixes still match
    assert ids(query="edis") == [b["thread_id"]] and ids(query="qqq") == []
    newest_first = ids(query="")
    assert ids(query="", cursor=b["last_event_sequence"]) == [a["thread_id"]]
    assert newest_first[0] == c["thread_id"]
    assert client.get("/api/v1/forum/search", params={"cursor": -1}).json()["error"]["code"] == "invalid_cursor"


def test_queues_honour_cursor(client: TestClient, forum: Forum) -> None:
    first = forum.open_thread("T-1", "q1", "?", actor_type="agent", actor_name="T-1/a")
    second = forum.open_thread("T-1", "q2", "?", actor_type="agent", actor_name="T-1/a")
    got = client.get("/api/v1/forum/queues", params={"type": "unanswered"}).json()["threads"]
    assert [t["thread_id"] for t in got] == [second.thread_id, first.thread_id]
    got = client.get("/api/v1/forum/queues", params={"type": "unanswered", "cursor": second.last_event_sequence})
    assert [t["thread_id"] for t in got.json()["threads"]] == [first.thread_id]


def test_stats_carry_updated_at(client: TestClient) -> None:
    t = open_thread(client, run_id="R1")
    stats = client.get("/api/v1/forum/stats").json()["stats"]
    assert stats == [{"ticket": "T-1", "run_id": "R1", "state": "new", "priority": "normal", "thread_count": 1,
                      "updated_at": t["updated_at"]}]


@pytest.mark.parametrize("payload", [
    {"control_type": "guidance_request", "question": "Which port?"},
    {"control_type": "completion", "summary": "done"},
    {"control_type": "guidance_answer", "answer": "3001"},
])
def test_control_signal_accepts_go_payloads_without_attempt(client: TestClient, payload: dict[str, Any]) -> None:
    body = {"run_id": "R1", "ticket": "T-1", "agent_name": "agent", "actor_type": "agent", "actor_name": "agent",
            "payload": {"schema_version": 1, "run_id": "R1", "agent_name": "agent", **payload}}
    r = client.post("/api/v1/forum/control/signal", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["thread"]["thread_id"] == "fctrl-r1-t-1-agent"
    stored = assert_go_event(data["event"])
    assert stored["attempt"] == 1 and stored["control_type"] == payload["control_type"]


def test_health_carries_go_worker_fields(client: TestClient) -> None:
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok" and RFC3339.match(h["started_at"]) and RFC3339.match(h["now"])
    w = h["worker"]
    for key, kind in (("running", bool), ("consecutive_errors", int), ("total_processed", int),
                      ("total_batches", int), ("idle_batches", int), ("bus_healthy", bool), ("outbox", dict)):
        assert isinstance(w[key], kind), key
    for key in ("started_at", "last_tick_at", "last_processed_at", "last_error_at", "last_error", "bus_error"):
        assert key in w, key
    for box in (w["outbox"], h["outbox"]):
        assert set(box) >= {"pending_count", "processing_count", "failed_count", "oldest_pending_age_seconds"}
    assert h["forum_bus"] == {"healthy": True}
