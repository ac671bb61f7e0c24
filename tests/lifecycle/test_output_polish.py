"""Output polish: whole lines when stdout is not a terminal, health `-` for finished agents, step tries that agree
with the agent's attempt, signals in `forum thread` as words."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.table import Table
from rich.text import Text

from metawsm.output import Output
from tests.engine.conftest import engine, project, wait_for, write_plan  # noqa: F401 - fixture
from tests.lifecycle._health_project import start, status


def test_output_that_is_not_a_terminal_is_never_wrapped() -> None:
    long = "status " + "running/a/very/long/path " * 20
    out = Output(stdout=io.StringIO(), color=False)
    table = Table("step", "note")
    table.add_row("agent:ABC-1:impl", long)
    out.console.print(Text(long))
    out.console.print(table)
    text = out._stdout.getvalue()  # type: ignore[attr-defined]
    assert text.splitlines()[0] == long
    assert long in text  # the table cell too: the table is as wide as its content
    fixed = Output(stdout=io.StringIO(), color=False, width=40)  # an explicit width still wraps
    fixed.console.print(Text(long))
    assert max(len(line) for line in fixed._stdout.getvalue().splitlines()) <= 40  # type: ignore[attr-defined]


def test_finished_agents_have_no_health_and_tries_follow_attempts(project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                 tmp_path: Path) -> None:
    go = tmp_path / "go"
    command = f"while [ ! -e {go} ]; do sleep 0.1; done; metawsm signal completion --summary finished"
    plan = write_plan(project, "polish", "tickets: [DEMO-1]\nchecks: ['true']\n"
                                         f"agents:\n  - {{name: impl, profile: shell, run: {json.dumps(command)}}}\n")
    run_id = start(cli, project, plan)
    eng = engine(project)

    def healthy() -> bool:
        status(cli, project)  # evaluates health and records it (it holds the run's lease when free)
        return eng.store.get_agent(run_id, "DEMO-1", "impl").health == "healthy"

    wait_for(healthy, what="health recorded as healthy")
    assert cli("restart", "--agent", "DEMO-1/impl", cwd=project).code == 0
    assert cli("restart", "--agent", "DEMO-1/impl", cwd=project).code == 0
    (snap,) = status(cli, project)["runs"]
    steps = {s["step_id"]: s for s in snap["steps"]}
    (agent,) = snap["agents"]
    assert agent["attempt"] == 3 and steps["agent:DEMO-1:impl"]["attempts"] == 3
    assert eng.store.get_step(run_id, "agent:DEMO-1:impl").attempts == 1  # the step's own count restarted
    wait_for(healthy, what="health of attempt 3 recorded as healthy")

    go.touch()
    assert cli("apply", str(plan), "--wait", "--timeout", "90", cwd=project).code == 0
    assert eng.store.get_agent(run_id, "DEMO-1", "impl").health == "healthy"  # recorded while it ran ...
    (snap,) = status(cli, project)["runs"]
    (agent,) = snap["agents"]
    assert agent["status"] == "stopped" and agent["health"] is None  # ... but a finished agent has none
    human = cli("status", cwd=project).out
    row = next(line for line in human.splitlines() if line.startswith(" DEMO-1/impl "))
    assert row.split("│")[1:4] == [" stopped ", " -      ", " 3       "]
    assert "finished (attempt 3)" in row  # whole, though COLUMNS=80 and the line is longer
    assert next(line for line in human.splitlines() if "agent:DEMO-1:impl" in line).split("│")[2].strip() == "3"
    header = human.splitlines()[0]
    assert header.startswith(run_id) and header.endswith("steps: 5 done")
    watched = cli("watch", "--once", cwd=project).out
    assert "[agent_completed] DEMO-1/impl completed (attempt 3)" in watched


def test_forum_thread_shows_signals_as_words(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    threads = json.loads(cli("forum", "list", "--json", cwd=project).out)["threads"]
    writer = next(t["thread_id"] for t in threads if t["thread_id"].endswith("-demo-1-writer"))
    checks = next(t["thread_id"] for t in threads if t["thread_id"].endswith("-demo-1-checks"))
    shown = cli("forum", "thread", writer, cwd=project).out
    assert "control_type" not in shown and "{" not in shown
    lines = shown.splitlines()
    signal = next(i for i, line in enumerate(lines) if "signalled completion" in line)
    assert lines[signal].startswith("--- agent:DEMO-1/writer at ")
    assert lines[signal].endswith(" · DEMO-1/writer signalled completion (attempt 1)")
    assert lines[signal + 1] == "wrote demo/DEMO-1.txt"
    validation = cli("forum", "thread", checks, cwd=project).out.splitlines()
    at = next(i for i, line in enumerate(validation) if line.endswith("DEMO-1/checks validation (attempt 1)"))
    assert validation[at + 1].startswith("passed at ") and validation[at + 1].endswith(": checks: test -s demo/DEMO-1.txt")
    assert validation[at + 2] == "  | $ test -s demo/DEMO-1.txt"
    as_json = json.loads(cli("forum", "thread", writer, "--json", cwd=project).out)
    assert json.loads(as_json["posts"][-1]["body"])["control_type"] == "completion"  # --json keeps the payload
