"""`metawsm plan` end to end, as a user types it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def run_metawsm(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metawsm", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ})

SHIPPED = Path(__file__).resolve().parents[2] / "plans"


@pytest.fixture
def demo(repo: Path, cli: Any) -> Path:
    """`metawsm init --demo` plus the two example plans shipped in plans/."""
    assert cli("init", "--demo", cwd=repo).code == 0
    for name in ("feature", "review"):
        shutil.copyfile(SHIPPED / f"{name}.yaml", repo / "plans" / f"{name}.yaml")
    return repo


def test_example_plans_validate_and_render(demo: Path, cli: Any) -> None:
    assert cli("validate", cwd=demo).code == 0
    result = cli("plan", "--json", cwd=demo)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [p["name"] for p in data["plans"]] == ["demo", "example", "feature", "review"]
    steps = {p["name"]: {s["id"] for s in p["graph"]["steps"]} for p in data["plans"]}
    assert {"lint:DEMO-1", "lint:DEMO-2", "summary", "agent:DEMO-2:notes"} <= steps["feature"]
    assert {"close:EXAMPLE-1", "changelog:DEMO-1"} <= steps["review"]
    assert data["changed"] is True


def test_human_tree(demo: Path, cli: Any) -> None:
    result = cli("plan", "plans/demo.yaml", cwd=demo)
    assert result.code == 0
    assert "plan demo  (plans/demo.yaml)" in result.out
    assert "+ agent:DEMO-1:writer  agent  needs session:DEMO-1:writer" in result.out
    assert "demo: 10 to add, 0 to change, 0 to remove, 0 unchanged." in result.out


def test_json_is_byte_identical(demo: Path) -> None:
    first = run_metawsm("plan", "--json", cwd=demo)
    second = run_metawsm("plan", "--json", cwd=demo)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.endswith("}\n")


def test_detailed_exitcode(demo: Path, cli: Any) -> None:
    assert cli("plan", "demo", cwd=demo).code == 0
    assert cli("plan", "demo", "--detailed-exitcode", cwd=demo).code == 2  # no recorded run: all new


def test_detailed_exitcode_zero_when_nothing_changed(demo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from metawsm.cli import plan as plan_cli
    from metawsm.config import loader
    from metawsm.config.project import Project
    from metawsm.plan import render_plan

    config = loader.load(Project(demo))
    recorded = render_plan(config, config.plans["demo"], project_root=demo)
    monkeypatch.setattr(plan_cli, "recorded_graph", lambda proj, plan: recorded)  # the engine's seam
    result = cli("plan", "demo", "--detailed-exitcode", cwd=demo)
    assert result.code == 0
    assert "demo: 0 to add, 0 to change, 0 to remove, 10 unchanged." in result.out


class TestErrors:
    def test_unknown_plan(self, demo: Path, cli: Any) -> None:
        result = cli("plan", "dmeo", cwd=demo)
        assert result.code == 2
        assert "error: unknown plan 'dmeo' (did you mean 'demo'?)" in result.err

    def test_missing_plan_file(self, demo: Path, cli: Any) -> None:
        result = cli("plan", "plans/nope.yaml", cwd=demo)
        assert (result.code, result.err.splitlines()[0]) == (2, "error: plans/nope.yaml: no such plan file")

    def test_errors_exit_1_with_detailed_exitcode(self, demo: Path, cli: Any) -> None:
        assert cli("plan", "dmeo", "--detailed-exitcode", cwd=demo).code == 1

    def test_json_error(self, demo: Path, cli: Any) -> None:
        (demo / "plans" / "demo.yaml").write_text(
            "name: demo\ntickets: [DEMO-1]\nagents:\n  - {name: a, profile: shell, run: '{{ x }}'}\n")
        result = cli("plan", "demo", "--json", cwd=demo)
        assert result.code == 2
        error = json.loads(result.out)["error"]
        assert error["code"] == "invalid_plan"
        assert error["diagnostics"][0]["keypath"] == "agents[0].run"


class TestSavedPlans:
    def test_fresh_then_stale(self, demo: Path, cli: Any) -> None:
        result = cli("plan", "demo", "--out", "demo.plan.json", cwd=demo)
        assert result.code == 0 and "saved to demo.plan.json" in result.out
        saved = json.loads((demo / "demo.plan.json").read_text())
        assert saved["metawsm_version"] and saved["plans"][0]["plan"] == "demo"
        assert sorted(saved["inputs"]) == [".metawsm/policy.yaml", "plans/demo.yaml",
                                           "tickets/DEMO-1.yaml", "tickets/DEMO-2.yaml"]
        assert cli("plan", "--check", "demo.plan.json", cwd=demo).code == 0

        ticket = demo / "tickets" / "DEMO-2.yaml"
        ticket.write_text(ticket.read_text() + "priority: high\n")
        result = cli("plan", "--check", "demo.plan.json", cwd=demo)
        assert result.code == 2
        assert result.err.splitlines()[0] == (
            "error: saved plan demo.plan.json is stale: 1 input changed since it was written: "
            "tickets/DEMO-2.yaml (changed)")

    def test_deleted_input_is_named(self, demo: Path, cli: Any) -> None:
        assert cli("plan", "demo", "--out", "s.json", cwd=demo).code == 0
        (demo / ".metawsm" / "policy.yaml").unlink()
        result = cli("plan", "--check", "s.json", cwd=demo)
        assert result.code == 2 and ".metawsm/policy.yaml (deleted)" in result.err

    def test_load_saved_returns_the_graph(self, demo: Path, cli: Any) -> None:
        from metawsm.config.project import Project
        from metawsm.plan.saved import load_saved

        assert cli("plan", "demo", "--out", "s.json", cwd=demo).code == 0
        saved = load_saved(demo / "s.json", Project(demo))
        assert saved.graph.plan_name == "demo" and len(saved.graph.steps) == 10

    def test_not_a_saved_plan(self, demo: Path, cli: Any) -> None:
        (demo / "x.json").write_text("{}")
        result = cli("plan", "--check", "x.json", cwd=demo)
        assert result.code == 2 and "not a saved plan" in result.err
