"""Issue 8's demo through the CLI as a user types it: an agent that crashes twice is healed by the operator
and then escalated, visible in `metawsm status` and the forum; and the long-running loop stops cleanly on
SIGTERM (exit 0) and Ctrl-C (exit 130) between ticks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.operator._helpers import configure

CRASHER = "echo working on it; sleep 1; echo oops >&2; exit 3"


def _tick_until(cli, root: Path, intent: str, timeout: float = 20) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    seen: list[dict] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cli("operator", "--once", "--json", cwd=root)
        assert result.code == 0, result.err
        seen += [json.loads(line) for line in result.out.splitlines()]
        if any(d["intent"] == intent for d in seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"no {intent} decision in {seen}")


def test_crashing_agent_is_healed_then_escalated(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=2, budget=1)
    run_id = start(cli, project, agents_plan(project, "demo2", {"w": CRASHER}))
    first = _tick_until(cli, project, "restart")
    assert [d["intent"] for d in first][-2:] == ["wait", "restart"]  # confirmed on a second tick
    assert first[-1]["executed"] and first[-1]["new_attempt"] == 2
    second = _tick_until(cli, project, "escalate")
    esc = second[-1]
    assert (esc["kind"], esc["executed"]) == ("budget", True)
    assert "restart budget exhausted (1/1)" in esc["reason"] and "exit status 3" in esc["reason"]
    assert [d["intent"] for d in second if d["intent"] != "wait"] == ["escalate"]  # no second restart

    status = json.loads(cli("status", "--run", run_id, "--json", cwd=project).out)
    (agent,) = status["runs"][0]["agents"]
    assert (agent["key"], agent["attempt"], agent["status"]) == ("DEMO-1/w", 2, "failed")
    human = cli("status", "--run", run_id, cwd=project).out
    assert "DEMO-1/w" in human and "failed" in human
    threads = json.loads(cli("forum", "list", "--ticket", "DEMO-1", "--json", cwd=project).out)["threads"]
    (thread,) = [t for t in threads if not t["thread_id"].startswith("fctrl-")]
    assert (thread["title"], thread["priority"], thread["state"]) == \
        ("DEMO-1/w: restart budget exhausted", "high", "waiting_human")
    shown = cli("forum", "thread", thread["thread_id"], cwd=project).out
    assert "restarted DEMO-1/w" in shown and f"metawsm restart --run {run_id} --agent DEMO-1/w" in shown
    eng = engine(project)
    moves = [(t.from_state, t.to_state) for t in reversed(eng.store.audit(run_id, entity="agent"))]
    # one restart by the operator (the crash is seen as failed by reconcile, or first as dead by health)
    assert sum(1 for before, after in moves if after == "running" and before in ("failed", "dead")) == 1


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_loop_stops_cleanly_between_ticks(signum: int, code: int, project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1, budget=0)
    start(cli, project, agents_plan(project, "lp", {"w": "sleep 300"}))
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=lp-DEMO-1-w"], check=True)
    proc = subprocess.Popen([sys.executable, "-m", "metawsm", "operator", "--interval", "0.2", "--json"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the loop is running: its first decision
        assert first["intent"] == "escalate"
        time.sleep(0.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert all(json.loads(line)["intent"] == "wait" for line in out.splitlines())  # escalated once
