"""/api/v1/health: facts, worker ticks, degraded (503) when the worker keeps failing; no runs yet."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.server.conftest import AppFactory


def test_health_ok_with_worker_ticks(make_client: AppFactory) -> None:
    client = make_client(worker=True)
    deadline = time.monotonic() + 5
    while client.get("/api/v1/health").json()["worker"]["ticks"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok" and h["uptime_seconds"] >= 0 and h["worker"]["running"]
    assert h["worker"]["ticks"] >= 1 and h["worker"]["consecutive_errors"] == 0
    assert {"log_bytes", "index_offset", "index_lag_bytes", "head_sequence"} <= set(h["forum"])
    assert h["reconcile_errors"] == [] and h["forum_bus"] == {"healthy": True}


def test_health_degraded_when_the_worker_fails(make_client: AppFactory) -> None:
    client = make_client(worker=False)
    worker = client.app.state.worker  # type: ignore[attr-defined]

    def broken() -> None:
        raise RuntimeError("state.db is on fire")

    worker.engine = broken
    for _ in range(3):
        worker.tick()
    r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded" and "on fire" in r.json()["error"]
    worker.engine = type(worker).engine.__get__(worker)
    worker.tick()
    assert client.get("/api/v1/health").status_code == 200


def test_no_runs_yet(client: TestClient) -> None:
    assert client.get("/api/v1/runs").json() == {"runs": []}
    assert client.get("/api/v1/runs/R1").status_code == 404
    r = client.get("/api/v1/gate")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_health_reports_a_corrupt_log(make_client: AppFactory, forum) -> None:  # type: ignore[no-untyped-def]
    """Issue 15: /health said "ok" while the log was corrupt."""
    client = make_client()
    forum.open_thread("ABC-1", "T", "b", actor_type="human", actor_name="me")
    assert client.get("/api/v1/health").json()["forum"]["log_ok"] is True
    with forum.log.path.open("ab") as fh:
        fh.write(b'{"sequence": 7}\n')
    assert client.get("/api/v1/forum/threads").status_code == 200  # the index skips it and remembers
    r = client.get("/api/v1/health")
    assert r.status_code == 503 and r.json()["status"] == "degraded"
    facts = r.json()["forum"]
    assert facts["log_ok"] is False and facts["log_skipped_lines"] == 1 and "forum doctor" in r.json()["error"]
    assert ":2 (byte " in facts["log_error"]


def test_health_reports_a_torn_tail(make_client: AppFactory, forum) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    forum.open_thread("ABC-1", "T", "b", actor_type="human", actor_name="me")
    with forum.log.path.open("ab") as fh:
        fh.write(b'{"sequence": 2, "ev')
    assert client.get("/").status_code == 200 and client.get("/forum").status_code == 200
    r = client.get("/api/v1/health")
    assert r.status_code == 503 and r.json()["forum"]["log_torn_bytes"] == 19
    forum.post(forum.list_threads()[0].thread_id, "repairs the tail", actor_type="human", actor_name="me")
    assert client.get("/api/v1/health").status_code == 200
