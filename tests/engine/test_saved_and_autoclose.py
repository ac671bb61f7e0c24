"""apply of saved plans (fresh applied, stale refused) and plans with auto_close."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git
from tests.engine.conftest import commit_all, engine


def test_apply_saved_plan_and_refuse_a_stale_one(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("plan", "plans/demo.yaml", "--out", "demo.plan.json", cwd=project).code == 0
    result = cli("apply", "demo.plan.json", "--dry-run", "--json", cwd=project)
    assert result.code == 0 and json.loads(result.out)["runs"][0]["plan"] == "demo"
    ticket = project / "tickets" / "DEMO-1.yaml"
    ticket.write_text(ticket.read_text().replace("greeting", "welcome"))
    result = cli("apply", "demo.plan.json", cwd=project)
    assert result.code == 2 and "tickets/DEMO-1.yaml" in result.err
    assert not (project / ".metawsm" / "workspaces").exists()


def test_auto_close_merges_each_ticket_when_its_gate_passes(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    plan = project / "plans" / "demo.yaml"
    plan.write_text(plan.read_text().replace("auto_close: false", "auto_close: true"))
    commit_all(project, "auto close")
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert run.status == "closed"
    assert set(eng.store.closed_tickets(run.run_id)) == {"DEMO-1", "DEMO-2"}
    assert (project / "demo" / "DEMO-2.txt").exists()
    assert git(project, "status", "--porcelain") == ""
