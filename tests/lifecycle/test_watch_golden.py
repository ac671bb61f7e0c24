"""Golden outputs: `apply --wait` and `watch` on a run that already exists print its current state once, then only
what changes; alerts are shown once per viewer across invocations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.engine.conftest import project, write_plan  # noqa: F401 - fixture
from tests.lifecycle._health_project import start


def _norm(text: str, run_id: str) -> str:
    return text.replace(run_id, "RUN")


def _run_id(project: Path) -> str:  # noqa: F811
    from tests.engine.conftest import engine

    (run,) = engine(project).store.list_runs()
    return run.run_id


def test_apply_wait_and_watch_on_a_complete_run_say_it_once(project: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    first = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert first.code == 0, first.out + first.err
    run_id = _run_id(project)
    assert "workspace:DEMO-1: running — needs satisfied" in first.out  # a new run: every change, as it happened

    again = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert again.code == 0, again.err
    assert _norm(again.out, run_id) == "run RUN (demo): complete · steps: 10 done\nrun RUN: complete\n"
    as_json = [json.loads(line) for line in cli("apply", "plans/demo.yaml", "--wait", "--json",
                                                 cwd=project).out.splitlines()]
    assert [e["type"] for e in as_json] == ["state", "summary"]
    assert as_json[0]["status"] == "complete" and {s["status"] for s in as_json[0]["steps"]} == {"done"}

    watched = cli("watch", "--once", cwd=project)
    assert watched.code == 0, watched.err
    assert _norm(watched.out, run_id) == (
        "run RUN (demo): complete · steps: 10 done\n"
        "[agent_completed] DEMO-1/writer completed (attempt 1)\n"
        "[agent_completed] DEMO-2/writer completed (attempt 1)\n"
        "[run_done] run RUN (demo) is complete\n"
        "  next: metawsm gate --run RUN; metawsm close --run RUN\n")
    # the same viewer again (cron): nothing it was told already; the state line says where things are
    assert _norm(cli("watch", "--once", cwd=project).out, run_id) == "run RUN (demo): complete · steps: 10 done\n"
    assert cli("watch", "--run", run_id, "--json", cwd=project).out == ""
    # another viewer, or --replay, gets every alert that holds
    other = cli("watch", "--once", "--json", "--viewer", "human:bob", cwd=project)
    assert [a["event"] for a in map(json.loads, other.out.splitlines())] == [
        "agent_completed", "agent_completed", "run_done"]
    assert cli("watch", "--once", "--replay", cwd=project).out.count("[") == 3
    assert cli("watch", "--once", "--viewer", "bob", cwd=project).code == 2  # KIND:NAME


def test_apply_wait_on_a_running_run_shows_its_state_then_only_new_changes(project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                          tmp_path: Path) -> None:
    go = tmp_path / "go"
    command = f"while [ ! -e {go} ]; do sleep 0.1; done; metawsm signal completion --summary finished"
    plan = write_plan(project, "w", "tickets: [DEMO-1]\nchecks: ['true']\n"
                                    f"agents:\n  - {{name: impl, profile: shell, run: {json.dumps(command)}}}\n")
    run_id = start(cli, project, plan)
    proc = subprocess.Popen([sys.executable, "-m", "metawsm", "apply", str(plan), "--wait", "--timeout", "90"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        state = [proc.stdout.readline() for _ in range(4)]  # the run line and its three unsettled steps
        assert _norm("".join(state), run_id) == (
            "run RUN (w): running · steps: 2 done, 2 pending, 1 running\n"
            "  agent:DEMO-1:impl: running (tries 1)\n"
            "  check:DEMO-1: pending (tries 0)\n"
            "  gate:DEMO-1: pending (tries 0)\n")
        go.touch()
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, rest + err
    lines = _norm(rest, run_id).splitlines()
    assert lines[0] == "agent:DEMO-1:impl: done — completed: finished"
    assert lines[-1] == "run RUN: complete"
    assert not any(line.startswith(("workspace:", "session:")) for line in lines)  # history is not replayed
    assert [line.split(" —")[0] for line in lines[1:-1]] == [
        "check:DEMO-1: running", "check:DEMO-1: done", "gate:DEMO-1: running", "gate:DEMO-1: done"]
