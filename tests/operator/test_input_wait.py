"""An agent whose CLI waits for its user (its hooks said so: here a shell agent reports the event the way
Claude Code's Stop hook does, through `metawsm agent-event`) is handled like a `metawsm ask`: not restarted,
and past the forum SLA escalated to a human once, with the command that attaches to it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from metawsm.operator import Operator
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.operator._helpers import configure, only

STOP = json.dumps({"hook_event_name": "Stop", "last_assistant_message": "Which colour do you want?"})
WAITER = f"metawsm agent-event stop '{STOP}' && sleep 300"


def test_a_cli_waiting_for_its_user_is_escalated_once_past_the_sla(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket, confirmations=1)
    run_id = start(cli, project, agents_plan(project, "iw", {"w": WAITER}))
    eng = engine(project)
    thread = eng.forum.control_thread_id(run_id, "DEMO-1/w")

    def posted() -> bool:
        threads = [t for t in eng.forum.list_threads(run_id=run_id) if t.thread_id == thread]
        return bool(threads) and any("turn finished" in p.body for p in eng.forum.get_thread(thread)[1])

    wait_for(posted, 20, "the hook event")
    assert Operator(eng).tick() == []  # within the SLA: nothing (and waiting is no reason to restart)
    eng.clock = lambda: time.time() + 31 * 60  # no activity or progress for 31 min: it still only waits
    d = only(Operator(eng).tick(), intent="escalate", kind="input", executed=True)
    assert "waiting for its user for 31 min (SLA 30 min): finished its turn without signalling completion: " \
           "Which colour do you want?" in d.reason
    escalation, posts, _ = eng.forum.get_thread(d.detail["thread_id"])
    assert escalation.title.startswith("DEMO-1/w waits for its user: finished its turn")
    assert (escalation.priority, escalation.state) == ("high", "waiting_human")
    assert f"metawsm attach DEMO-1/w --run {run_id}" in posts[0].body
    assert Operator(eng).tick() == []  # once per wait
    assert eng.store.get_agent(run_id, "DEMO-1", "w").attempt == 1
