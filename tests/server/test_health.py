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
