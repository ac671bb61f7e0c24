"""Every state of every state machine (run, ticket, step, agent, forum thread, health, gate) renders in
`status`, `watch`, `--json` and the web UI — no state can crash a view (issue 13: `closing` used to raise
MarkupError) and every one has a style."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from metawsm.cli.main import main
from metawsm.cli.status import STATE_STYLE, run_view
from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.engine.context import Engine
from metawsm.engine.snapshot import GATE_STATE, build_snapshots
from metawsm.forum.models import STATES as THREAD_STATES
from metawsm.server.app import create_app
from metawsm.state import AGENT_STATES, RUN_STATES, STEP_STATES, TICKET_STATES, StateStore

HEALTHS = ("healthy", "idle", "stalled", "dead")
GATES = (*GATE_STATE.values(), "no gate")
CSS = Path(__file__).parents[2] / "metawsm/server/static/app.css"


def _force(store: StateStore, table: str, status: str, where: str, *params: str) -> None:
    store.db.conn.execute(f"UPDATE {table} SET status = ? WHERE {where}", (status, *params))


@pytest.fixture
def every_state(repo: Path, tmux_socket: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """One run per run state, each with a step per step state, an agent per agent state and a ticket per
    ticket state (statuses written directly: this is about rendering, not about reaching them)."""
    assert main(["-C", str(repo), "init"]) == 0
    capsys.readouterr()
    (repo / ".metawsm/policy.yaml").write_text(f"tmux:\n  socket_name: {tmux_socket}\n", encoding="utf-8")
    store = StateStore(repo / ".metawsm/state/state.db")
    tickets = [f"X-{t}" for t in TICKET_STATES]
    for rs in RUN_STATES:
        rid = f"r-{rs}"
        store.create_run(rid, f"plan-{rs}", "h", json.dumps({"plan": f"plan-{rs}", "source": "", "steps": []}))
        for i, ss in enumerate(STEP_STATES):
            for ticket in tickets:
                sid = f"check:{ticket}:{ss}" if i else f"gate:{ticket}"
                store.upsert_step(rid, sid, "check" if i else "gate", ticket, None, "d")
                _force(store, "steps", ss, "run_id = ? AND step_id = ?", rid, sid)
        for a in AGENT_STATES:
            store.upsert_agent(rid, tickets[0], a, "shell", f"none-{rs}-{a}")
            _force(store, "agents", a, "run_id = ? AND name = ?", rid, a)
        _force(store, "runs", rs, "run_id = ?", rid)
    for ticket, ts in zip(tickets, TICKET_STATES, strict=True):
        store.move_ticket(ticket, "open", run_id="r-running")
        _force(store, "tickets", ts, "ticket = ?", ticket)
    store.close()
    return repo


def test_every_state_has_a_style() -> None:
    words = {*RUN_STATES, *TICKET_STATES, *STEP_STATES, *AGENT_STATES, *THREAD_STATES, *HEALTHS, *GATES}
    assert sorted(w for w in words if not STATE_STYLE.get(w)) == []
    css = CSS.read_text(encoding="utf-8")
    classes = set(re.findall(r"\.([a-z]-[a-z_-]+)", css))
    wanted = ({f"s-{s}" for s in (*RUN_STATES, *STEP_STATES, *AGENT_STATES, *THREAD_STATES)}
              | {f"t-{t}" for t in TICKET_STATES} | {f"h-{h}" for h in HEALTHS}
              | {"g-" + g.replace(" ", "-") for g in GATES})
    assert sorted(wanted - classes) == []


def test_status_watch_and_json_render_every_state(every_state: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("status", "--all", "--json", cwd=every_state)
    assert result.code == 0, result.err
    runs = json.loads(result.out)["runs"]
    assert sorted(r["status"] for r in runs) == sorted(RUN_STATES)
    assert {t["status"] for r in runs for t in r["ticket_states"]} == set(TICKET_STATES)
    assert {s["status"] for r in runs for s in r["steps"]} == set(STEP_STATES)
    assert all(len(r["agents"]) == len(AGENT_STATES) for r in runs)
    human = cli("status", "--all", cwd=every_state)
    assert human.code == 0, human.err
    for word in (*RUN_STATES, *TICKET_STATES, *STEP_STATES):
        assert re.search(rf"\b{word}\b", human.out), word
    for args in (["--once", "--no-reconcile"], ["--once", "--no-reconcile", "--json"], ["--once"]):
        assert cli("watch", *args, cwd=every_state).code == 0, args

    # the recorded agent states (health not re-evaluated), through the same renderer status and watch use
    eng = Engine.open(Project(every_state))
    try:
        snaps = build_snapshots(eng, eng.store.list_runs(), evaluate_health=False)
    finally:
        eng.close()
    console = Console(record=True, width=200, color_system="truecolor", force_terminal=True)
    for snap in snaps:
        console.print(run_view(snap))
    text = console.export_text()
    for word in (*AGENT_STATES, *RUN_STATES, *TICKET_STATES):
        assert re.search(rf"\b{word}\b", text), word


def test_web_ui_renders_every_state(every_state: Path) -> None:
    proj = Project(every_state)
    with TestClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1") as client:
        page = client.get("/")
        assert page.status_code == 200
        for rs in RUN_STATES:
            if rs not in ("closed", "ended"):  # the index lists the active runs
                assert f"s-{rs}" in page.text, rs
        for rs in RUN_STATES:
            run = client.get(f"/runs/r-{rs}")
            assert run.status_code == 200, (rs, run.text[:300])
            assert f"s-{rs}" in run.text
            for ts in TICKET_STATES:
                assert f"t-{ts}" in run.text
        api = client.get("/api/v1/runs", params={"all": 1}).json()["runs"]
        assert sorted(r["status"] for r in api) == sorted(RUN_STATES)
