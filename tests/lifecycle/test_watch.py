"""metawsm watch: --once alerts, --notify-cmd environment, following a run to its end, deduplication."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from metawsm.cli.watch import Watcher
from metawsm.engine.snapshot import build_snapshots
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, set_health, start


def _alerts(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_once_alerts_a_question_and_a_dead_agent_and_runs_notify_cmd(project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                     tmp_path: Path) -> None:
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "w", {"asker": "metawsm ask 'Which DB?' --timeout 120",
                                                            "sleeper": "sleep 300"}))
    eng = engine(project)
    wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question, what="the question")
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=w-DEMO-1-sleeper"], check=True)
    envs = tmp_path / "envs"
    envs.mkdir()
    notify = f"env | grep '^METAWSM_' | sort > {envs}/$METAWSM_EVENT.env"
    result = cli("watch", "--once", "--json", "--no-reconcile", "--notify-cmd", notify, cwd=project)
    assert result.code == 0, result.err
    alerts = {a["event"]: a for a in _alerts(result.out)}
    assert set(alerts) == {"guidance_needed", "agent_unhealthy"}
    assert alerts["guidance_needed"]["message"] == "DEMO-1/asker asks: Which DB?"
    assert str(alerts["guidance_needed"]["hint"]).startswith("metawsm forum answer fctrl-")
    assert alerts["agent_unhealthy"]["agent"] == "sleeper" and "dead" in str(alerts["agent_unhealthy"]["message"])
    env = dict(line.split("=", 1) for line in (envs / "guidance_needed.env").read_text().splitlines())
    assert env["METAWSM_EVENT"] == "guidance_needed" and env["METAWSM_RUN"] == run_id
    assert env["METAWSM_TICKET"] == "DEMO-1" and env["METAWSM_AGENT"] == "asker"
    assert env["METAWSM_MESSAGE"] == "DEMO-1/asker asks: Which DB?"
    assert (envs / "agent_unhealthy.env").exists()

    plain = cli("watch", "--once", "--no-reconcile", "--viewer", "human:other", cwd=project)
    assert "[guidance_needed] DEMO-1/asker asks: Which DB?" in plain.out
    assert "next: metawsm forum answer" in plain.out
    again = cli("watch", "--once", "--no-reconcile", cwd=project)  # the same viewer as the --json watch above
    assert again.code == 0 and "[" not in again.out and again.out.startswith(f"run {run_id} (w): running")


def test_watch_run_follows_the_demo_to_its_end(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """watch reconciles (like apply --wait): agents complete, the run ends, watch exits 0."""
    result = cli("apply", "plans/demo.yaml", "--json", cwd=project)
    (run,) = json.loads(result.out)["runs"]
    watched = cli("watch", "--run", run["run_id"], "--interval", "0.2", "--json", cwd=project)
    assert watched.code == 0, watched.err
    events = [(a["event"], a["agent"]) for a in _alerts(watched.out)]
    assert sorted(events) == [("agent_completed", "writer"), ("agent_completed", "writer"), ("run_done", None)]
    assert events[-1] == ("run_done", None)


def test_alerts_are_deduplicated_until_the_condition_changes(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_health(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "d", {"sleeper": "sleep 300"}))
    eng = engine(project)
    watcher = Watcher()
    run = eng.store.get_run(run_id)
    assert watcher.alerts(build_snapshots(eng, [run])[0]) == []
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=d-DEMO-1-sleeper"], check=True)
    first = watcher.alerts(build_snapshots(eng, [run])[0])
    assert [a.event for a in first] == ["agent_unhealthy"]
    assert watcher.alerts(build_snapshots(eng, [run])[0]) == []  # still dead: said once


def test_bad_interval_is_a_usage_error(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("watch", "--interval", "0", cwd=project).code == 2
