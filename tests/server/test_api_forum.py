"""Every forum route: success and each error status, in the one error shape."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from metawsm.forum import Forum

HUMAN = {"actor_type": "human", "actor_name": "alice"}


def open_thread(client: TestClient, **extra: Any) -> dict[str, Any]:
    body = {"ticket": "T-1", "title": "Which database?", "body": "postgres or sqlite", **HUMAN, **extra}
    r = client.post("/api/v1/forum/threads", json=body)
    assert r.status_code == 200, r.text
    return r.json()["thread"]  # type: ignore[no-any-return]


def error(r: Any, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    data = r.json()
    assert set(data) == {"error"} and data["error"]["code"] == code, data
    return data["error"]["message"]  # type: ignore[no-any-return]


def test_open_get_and_list(client: TestClient) -> None:
    t = open_thread(client, priority="high", run_id="R1", agent_name="T-1/writer")
    for key in ("thread_id", "ticket", "run_id", "state", "priority", "posts_count", "last_event_sequence",
                "is_unseen", "is_unanswered", "opened_at", "updated_at"):
        assert key in t
    assert (t["state"], t["priority"], t["posts_count"]) == ("new", "high", 1)
    detail = client.get(f"/api/v1/forum/threads/{t['thread_id']}").json()
    assert detail["thread"]["thread_id"] == t["thread_id"]
    assert [p["body"] for p in detail["posts"]] == ["postgres or sqlite"]
    assert detail["events"][0]["envelope"]["event_type"] == "forum.thread.opened"
    listed = client.get("/api/v1/forum/threads", params={"ticket": "T-1", "priority": "high"}).json()["threads"]
    assert [x["thread_id"] for x in listed] == [t["thread_id"]]
    assert client.get("/api/v1/forum/threads", params={"ticket": "OTHER"}).json() == {"threads": []}


def test_thread_actions(client: TestClient) -> None:
    tid = open_thread(client)["thread_id"]
    base = f"/api/v1/forum/threads/{tid}"
    assert client.post(f"{base}/posts", json={"body": "more", **HUMAN}).json()["thread"]["posts_count"] == 2
    t = client.post(f"{base}/assign", json={"assignee_type": "human", "assignee_name": "bob",
                                             "assignment_note": "yours", **HUMAN}).json()["thread"]
    assert (t["assignee_type"], t["assignee_name"]) == ("human", "bob")
    assert client.post(f"{base}/state", json={"to_state": "triaged", **HUMAN}).json()["thread"]["state"] == "triaged"
    assert client.post(f"{base}/priority", json={"priority": "urgent", **HUMAN}).json()["thread"]["priority"] == "urgent"
    t = client.post(f"{base}/answer", json={"body": "sqlite", **HUMAN}).json()["thread"]
    assert (t["state"], t["posts_count"]) == ("answered", 3)
    seen = client.post(f"{base}/seen", json={"viewer_type": "human", "viewer_id": "alice",
                                             "last_seen_event_sequence": 0}).json()["seen"]
    assert seen["last_seen_event_sequence"] == t["last_event_sequence"]
    assert client.post(f"{base}/close", json=HUMAN).json()["thread"]["state"] == "closed"
    assert client.post(f"{base}/close", json=HUMAN).json()["thread"]["state"] == "closed"  # no-op


class Bad(NamedTuple):
    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    code: str


BAD = [
    Bad("get", "/api/v1/forum/threads/nope", None, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/posts", {"body": "x", **HUMAN}, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/answer", {"body": "x", **HUMAN}, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/assign", {"assignee_type": "human", "assignee_name": "b", **HUMAN},
        404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/state", {"to_state": "triaged", **HUMAN}, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/priority", {"priority": "low", **HUMAN}, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/close", HUMAN, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/seen", {"viewer_type": "human", "viewer_id": "a"}, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads/nope/frobnicate", {}, 404, "unknown_action"),
    Bad("get", "/api/v1/forum/threads/nope/posts", None, 405, "method_not_allowed"),
    Bad("delete", "/api/v1/forum/threads", None, 405, "method_not_allowed"),
    Bad("get", "/api/v1/nowhere", None, 404, "not_found"),
    Bad("post", "/api/v1/forum/threads", {"ticket": "T", "title": "t", "body": "b", **HUMAN, "bogus": 1},
        400, "invalid_input"),
    Bad("post", "/api/v1/forum/threads", {"ticket": "T", "title": "t", **HUMAN}, 400, "invalid_input"),
    Bad("post", "/api/v1/forum/threads", {"ticket": "T", "title": "t", "body": "b", "actor_type": "robot"},
        400, "invalid_input"),
    Bad("post", "/api/v1/forum/threads", {"ticket": "T", "title": "t", "body": "b", "priority": "meh", **HUMAN},
        400, "invalid_input"),
    Bad("post", "/api/v1/forum/threads", {"ticket": "T", "title": "t", "body": "x" * 70000, **HUMAN},
        400, "invalid_input"),
    Bad("get", "/api/v1/forum/threads?state=bogus", None, 400, "invalid_input"),
    Bad("get", "/api/v1/forum/threads?limit=0", None, 400, "invalid_limit"),
    Bad("get", "/api/v1/forum/threads?limit=abc", None, 400, "invalid_input"),
    Bad("get", "/api/v1/forum/events?cursor=-1", None, 400, "invalid_cursor"),
    Bad("get", "/api/v1/forum/events?limit=0", None, 400, "invalid_limit"),
    Bad("get", "/api/v1/forum/search?query=x&cursor=-2", None, 400, "invalid_cursor"),
    Bad("get", "/api/v1/forum/search?query=x&limit=0", None, 400, "invalid_limit"),
    Bad("get", "/api/v1/forum/queues", None, 400, "invalid_input"),
    Bad("get", "/api/v1/forum/queues?type=weird", None, 400, "invalid_input"),
    Bad("get", "/api/v1/forum/queues?type=unanswered&limit=0", None, 400, "invalid_limit"),
    Bad("get", "/api/v1/forum/debug?limit=0", None, 400, "invalid_limit"),
    Bad("post", "/api/v1/forum/threads", None, 400, "invalid_input"),
]


@pytest.mark.parametrize("case", BAD, ids=[f"{c.method}-{c.path}-{c.code}" for c in BAD])
def test_errors(client: TestClient, case: Bad) -> None:
    kwargs = {"json": case.body} if case.body is not None else {}
    error(client.request(case.method.upper(), case.path, **kwargs), case.status, case.code)


def test_illegal_transitions_are_409(client: TestClient) -> None:
    tid = open_thread(client)["thread_id"]
    base = f"/api/v1/forum/threads/{tid}"
    client.post(f"{base}/state", json={"to_state": "answered", **HUMAN})
    msg = error(client.post(f"{base}/state", json={"to_state": "new", **HUMAN}), 409, "illegal_transition")
    assert "answered -> new" in msg
    client.post(f"{base}/close", json=HUMAN)
    for action, body in (("posts", {"body": "x"}), ("answer", {"body": "x"}), ("priority", {"priority": "low"}),
                         ("assign", {"assignee_type": "human", "assignee_name": "b"}),
                         ("state", {"to_state": "triaged"})):
        error(client.post(f"{base}/{action}", json={**body, **HUMAN}), 409, "illegal_transition")


def test_search_queues_events_stats(client: TestClient, forum: Forum) -> None:
    a = open_thread(client, title="Postgres migration")
    b = forum.open_thread("T-2", "Cache layer", "redis please", actor_type="agent", actor_name="T-2/writer")
    found = client.get("/api/v1/forum/search", params={"query": "postgres"}).json()["threads"]
    assert [t["thread_id"] for t in found] == [a["thread_id"]]
    everything = client.get("/api/v1/forum/search", params={"query": ""}).json()["threads"]
    assert {t["thread_id"] for t in everything} == {a["thread_id"], b.thread_id}
    below = client.get("/api/v1/forum/search", params={"query": "", "cursor": b.last_event_sequence}).json()
    assert [t["thread_id"] for t in below["threads"]] == [a["thread_id"]]
    unanswered = client.get("/api/v1/forum/queues", params={"type": "unanswered"}).json()["threads"]
    assert [t["thread_id"] for t in unanswered] == [b.thread_id]
    unseen = client.get("/api/v1/forum/queues", params={"type": "unseen", "viewer_type": "human",
                                                        "viewer_id": "carol"}).json()["threads"]
    assert {t["thread_id"] for t in unseen} == {a["thread_id"], b.thread_id}
    assert all(t["is_unseen"] for t in unseen)
    page = client.get("/api/v1/forum/events", params={"cursor": 0, "limit": 1}).json()
    assert len(page["events"]) == 1 and page["next_cursor"] == page["events"][0]["sequence"] == 1
    rest = client.get("/api/v1/forum/events", params={"cursor": 1, "ticket": "T-2"}).json()
    assert [e["envelope"]["ticket"] for e in rest["events"]] == ["T-2"]
    empty = client.get("/api/v1/forum/events", params={"cursor": 999}).json()
    assert empty == {"events": [], "next_cursor": 999}
    stats = client.get("/api/v1/forum/stats").json()["stats"]
    assert {(s["ticket"], s["state"], s["thread_count"]) for s in stats} == {("T-1", "new", 1), ("T-2", "new", 1)}
    assert client.get("/api/v1/forum/stats", params={"ticket": "T-2"}).json()["stats"][0]["ticket"] == "T-2"
    debug = client.get("/api/v1/forum/debug").json()["debug"]
    assert debug["events"] and debug["threads"] and debug["bus"]["topics"]


def control_body(**payload: Any) -> dict[str, Any]:
    base = {"schema_version": 1, "control_type": "guidance_request", "run_id": "R1", "agent_name": "T-1/writer",
            "attempt": 1, "question": "Which port?"}
    return {"run_id": "R1", "ticket": "T-1", "agent_name": "writer", "actor_type": "agent",
            "payload": {k: v for k, v in {**base, **payload}.items() if v is not None}}


def test_control_signal_and_answer(client: TestClient, forum: Forum) -> None:
    r = client.post("/api/v1/forum/control/signal", json=control_body())
    assert r.status_code == 200, r.text
    thread, event = r.json()["thread"], r.json()["event"]
    assert thread["thread_id"] == "fctrl-r1-t-1-writer" and thread["state"] == "waiting_human"
    assert json.loads(event["payload_json"])["control_type"] == "guidance_request"
    assert event["envelope"]["agent_name"] == "T-1/writer"
    assert forum.control_state("R1", "T-1/writer", 1).pending_question == "Which port?"
    # the answer route records a guidance_answer: what unblocks `metawsm ask`
    t = client.post(f"/api/v1/forum/threads/{thread['thread_id']}/answer", json={"body": "8080", **HUMAN})
    assert t.json()["thread"]["state"] == "answered"
    state = forum.control_state("R1", "T-1/writer", 1)
    assert state.pending_question is None and state.last_answer and state.last_answer[0] == "8080"


@pytest.mark.parametrize(("payload", "field"), [
    ({"schema_version": 2}, "schema_version"),
    ({"control_type": "nope"}, "control_type"),
    ({"question": ""}, "question"),
    ({"attempt": 0}, "attempt"),
    ({"extra": "x"}, "extra"),
    ({"control_type": "validation", "status": "maybe", "done_criteria": "x", "sha": "abcdef1", "question": None},
     "status"),
])
def test_control_signal_validated_like_cli(client: TestClient, payload: dict[str, Any], field: str) -> None:
    msg = error(client.post("/api/v1/forum/control/signal", json=control_body(**payload)), 400,
                "invalid_control_payload")
    assert f": {field}:" in msg


@pytest.mark.parametrize(("payload", "field"), [({"run_id": "R2"}, "run_id"),
                                              ({"agent_name": "T-1/other"}, "agent_name")])
def test_control_signal_payload_conflicting_with_request_is_409(client: TestClient, payload: dict[str, Any],
                                                               field: str) -> None:
    msg = error(client.post("/api/v1/forum/control/signal", json=control_body(**payload)), 409, "conflict")
    assert f"payload.{field}" in msg


def test_openapi_describes_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/health", "/api/v1/runs", "/api/v1/runs/{run_id}", "/api/v1/runs/{run_id}/stop",
                 "/api/v1/runs/{run_id}/resume", "/api/v1/runs/{run_id}/restart", "/api/v1/gate",
                 "/api/v1/forum/threads", "/api/v1/forum/threads/{thread_id}",
                 "/api/v1/forum/threads/{thread_id}/answer", "/api/v1/forum/threads/{thread_id}/seen",
                 "/api/v1/forum/search", "/api/v1/forum/queues", "/api/v1/forum/events",
                 "/api/v1/forum/stats", "/api/v1/forum/control/signal"):
        assert path in paths, path
    assert spec["components"]["schemas"]["OpenThread"]["additionalProperties"] is False
