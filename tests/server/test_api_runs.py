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
    client = TestClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1")
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
    assert client.get("/api/v1/runs", params={"ticket": "demo-1"}).json()["runs"][0]["run_id"] == run_id
    assert client.get("/api/v1/runs", params={"ticket": "NOPE"}).json() == {"runs": []}
    r = client.post(f"/api/v1/runs/{run_id}/stop")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "stopped" and r.json()["run"]["status"] == "stopped"
    # every run by default (as the Go server); active=1 for the active ones only
    assert [x["run_id"] for x in client.get("/api/v1/runs").json()["runs"]] == [run_id]
    # a stopped run is still the plan's active run (resume or apply continues it)
    assert [x["status"] for x in client.get("/api/v1/runs", params={"active": 1}).json()["runs"]] == ["stopped"]
    assert [x["run_id"] for x in client.get("/api/v1/runs", params={"all": 1}).json()["runs"]] == [run_id]
    again = client.post(f"/api/v1/runs/{run_id}/stop")  # stopping what is not running changes nothing
    assert again.status_code == 200 and again.json()["result"]["actions"] == ["nothing to stop: run is stopped"]
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


def test_runs_carry_the_go_run_snapshot_fields(run_client: tuple[TestClient, str], project: Path) -> None:  # noqa: F811
    """The Go RunSnapshot's fields (no JSON tags: Go names) beside ours; the Go UI reads run_id/RunID,
    status/Status, tickets/Tickets and pending_guidance/PendingGuidance."""
    client, run_id = run_client
    sig = client.post("/api/v1/forum/control/signal", json={
        "run_id": run_id, "ticket": "DEMO-1", "agent_name": "s", "actor_type": "agent", "actor_name": "s",
        "payload": {"schema_version": 1, "control_type": "guidance_request", "run_id": run_id, "agent_name": "s",
                    "question": "Which port?"}})
    assert sig.status_code == 200, sig.text
    run = client.get(f"/api/v1/runs/{run_id}").json()["run"]
    assert run["RunID"] == run_id and run["Tickets"] == ["DEMO-1"]
    assert run["Status"] == {"complete": "completed"}.get(run["status"], run["status"])
    assert run["PendingGuidance"] == [{"ThreadID": sig.json()["thread"]["thread_id"], "AgentName": "DEMO-1/s",
                                       "WorkspaceName": "DEMO-1", "Question": "Which port?"}]
    assert run["pending_guidance"] == [{"thread_id": sig.json()["thread"]["thread_id"], "agent_name": "DEMO-1/s",
                                        "workspace_name": "DEMO-1", "question": "Which port?"}]
    assert isinstance(run["UnhealthyAgents"], list) and isinstance(run["HasDirtyDiffs"], bool)
    for key in ("DraftPullRequests", "OpenPullRequests", "QueuedReviewFeedback", "NewReviewFeedback"):
        assert run[key] == 0
    listed = client.get("/api/v1/runs").json()["runs"][0]
    assert listed["RunID"] == run_id and listed["PendingGuidance"] == run["PendingGuidance"]


def test_go_validation_without_sha_validates_the_worktree_head(run_client: tuple[TestClient, str]) -> None:
    """A Go validation payload has no attempt and no sha: the agent's current attempt and the ticket
    worktree's HEAD at receipt are recorded."""
    from metawsm.runtime.git import head_sha

    client, run_id = run_client
    agent = next(a for a in client.get(f"/api/v1/runs/{run_id}").json()["run"]["agents"])
    step = next(s for s in client.get(f"/api/v1/runs/{run_id}").json()["run"]["steps"] if s["kind"] == "workspace")
    r = client.post("/api/v1/forum/control/signal", json={
        "run_id": run_id, "ticket": "DEMO-1", "agent_name": "s", "actor_type": "agent",
        "payload": {"schema_version": 1, "control_type": "validation", "run_id": run_id, "agent_name": "s",
                    "status": "passed", "done_criteria": "tests pass"}})
    assert r.status_code == 200, r.text
    payload = json.loads(r.json()["event"]["payload_json"])
    assert payload["attempt"] == agent["attempt"] >= 1
    assert step["ticket"] == "DEMO-1"
    from metawsm.engine.context import Engine
    from metawsm.engine.health import workspace_paths

    app_state = client.app.state  # type: ignore[attr-defined]
    eng = Engine.open(app_state.project, app_state.policy)
    try:
        path = workspace_paths(eng.store.list_steps(run_id))["DEMO-1"]
    finally:
        eng.close()
    assert payload["sha"] == head_sha(path)
