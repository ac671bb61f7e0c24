"""Runs, lifecycle actions, gate and health over HTTP against a real demo run (tmux on a private socket)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.server.app import create_app
from tests.engine.conftest import project, write_plan  # noqa: F401  (fixture)

pytestmark = pytest.mark.tmux

PLAN = "tickets: [DEMO-1]\nagents:\n  - {name: s, profile: shell, run: 'sleep 60'}\n"


@pytest.fixture
def run_client(project: Path, cli: Any) -> Iterator[tuple[TestClient, str]]:  # noqa: F811
    write_plan(project, "slow", PLAN)
    r = cli("apply", "plans/slow.yaml", "--json", cwd=project)
    assert r.code == 0, r.err
    run_id = json.loads(r.out)["runs"][0]["run_id"]
    proj = Project(project)
    client = TestClient(create_app(proj, load_policy(proj), worker=False))
    client.__enter__()
    yield client, run_id
    client.__exit__(None, None, None)
    cli("stop", "--run", run_id, cwd=project)


def test_runs_routes_and_actions(run_client: tuple[TestClient, str]) -> None:
    client, run_id = run_client
    runs = client.get("/api/v1/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == [run_id]
    snap = client.get(f"/api/v1/runs/{run_id}").json()["run"]
    for key in ("steps", "agents", "questions", "gates", "status", "tickets"):
        assert key in snap
    assert snap["tickets"] == ["DEMO-1"]
    assert client.get("/api/v1/runs", params={"ticket": "DEMO-1"}).json()["runs"][0]["run_id"] == run_id
    assert client.get("/api/v1/runs", params={"ticket": "NOPE"}).json() == {"runs": []}
    r = client.post(f"/api/v1/runs/{run_id}/stop")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "stopped" and r.json()["run"]["status"] == "stopped"
    assert client.get("/api/v1/runs").json()["runs"] == []
    assert [x["run_id"] for x in client.get("/api/v1/runs", params={"all": 1}).json()["runs"]] == [run_id]
    again = client.post(f"/api/v1/runs/{run_id}/stop")
    assert again.status_code == 409 and again.json()["error"]["code"] == "error"
    r = client.post(f"/api/v1/runs/{run_id}/resume")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] in ("running", "complete")
    r = client.post(f"/api/v1/runs/{run_id}/restart", json={})
    assert r.status_code == 200, r.text
    bad = client.post(f"/api/v1/runs/{run_id}/restart", json={"agent": "ghost"})
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/runs/{run_id}/restart", json={"bogus": 1}).status_code == 400
    gates = client.get("/api/v1/gate", params={"ticket": "DEMO-1"}).json()
    assert gates["gates"][0]["ticket"] == "DEMO-1" and isinstance(gates["passed"], bool)
    assert {c["name"] for c in gates["gates"][0]["checks"]} >= {"clean_tree"}


def test_unknown_runs_are_404(run_client: tuple[TestClient, str]) -> None:
    client, _ = run_client
    for method, path in (("GET", "/api/v1/runs/nope"), ("POST", "/api/v1/runs/nope/stop"),
                         ("POST", "/api/v1/runs/nope/resume"), ("POST", "/api/v1/runs/nope/restart"),
                         ("GET", "/api/v1/gate?run_id=nope"), ("GET", "/api/v1/gate?ticket=NOPE")):
        r = client.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (path, r.text)
