"""One lock per operation: concurrent commands on a run are serialized by its lease, a waiting command names the
holder, a dead holder's lease is taken over, a long operation keeps its lease, `status` writes only under it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import commit_all, engine, wait_for, write_plan

pytestmark = pytest.mark.tmux
ROOT = Path(__file__).resolve().parents[2]
SLEEPER = "tickets: [DEMO-1, DEMO-2]\nagents:\n  - {name: w, profile: shell, run: 'sleep 300'}\n"


def metawsm(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(root), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


class Holder:
    """A real process holding a run's lease through `operation` (the helper module), until released."""

    def __init__(self, root: Path, run_id: str, command: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.engine._holder", str(root), run_id, command],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=ROOT, env={**os.environ, **(env or {})})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("held "), line + (self.proc.stderr.read() if self.proc.stderr else "")
        self.pid = int(line.split()[1])

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        if holder.proc.poll() is None:
            holder.kill()


def started_run(project: Path, cli) -> str:  # type: ignore[no-untyped-def]
    write_plan(project, "one", SLEEPER)
    assert cli("apply", "plans/one.yaml", cwd=project).code == 0
    (run,) = engine(project).store.list_runs()
    return run.run_id


def test_two_concurrent_applies_make_one_run_and_start_each_agent_once(project: Path) -> None:
    write_plan(project, "one", SLEEPER)
    procs = [metawsm(project, "apply", "plans/one.yaml", "--json", "--lock-timeout", "120") for _ in range(2)]
    results = [finish(p) for p in procs]
    for code, out, err in results:
        assert code == 0, out + err
    runs = [json.loads(out)["runs"][0] for _, out, _ in results]
    assert len({r["run_id"] for r in runs}) == 1 and sorted(r["created"] for r in runs) == [False, True]
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert sorted(s.step_id for s in eng.store.list_steps(run.run_id)) == sorted(
        f"{kind}:{t}{suffix}" for t in ("DEMO-1", "DEMO-2")
        for kind, suffix in (("workspace", ""), ("session", ":w"), ("agent", ":w"), ("gate", "")))
    assert [a.attempt for a in eng.store.list_agents(run.run_id)] == [1, 1]  # each agent started once


# The operator's LLM adviser, as a script: it says when the operator is inside its tick (under the run's lease, which
# the operator holds from reconcile to the last decision) and stays there until the test creates `go` (bounded).
PAUSING_LLM = """\
import json, pathlib, sys, time
here = pathlib.Path(__file__).parent
sys.stdin.read()
(here / "in-tick").write_text("")
deadline = time.monotonic() + 120
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({"intent": "wait", "reason": "the test held this tick", "answer": None, "confidence": 0.9}))
"""
ASKERS = ("tickets: [DEMO-1, DEMO-2]\nagents:\n"
          "  - {name: w, profile: shell, run: 'metawsm ask \"which way?\" --timeout 600; sleep 300'}\n")


def agent_rows(project: Path, run_id: str) -> dict[str, tuple[str, str]]:
    rows = engine(project).store.list_steps(run_id)
    return {r.step_id: (r.definition_hash, json.loads(r.fields_json)["command"]) for r in rows if r.kind == "agent"}


def test_apply_racing_the_operator_waits_for_its_tick_and_loses_no_update(project: Path, tmp_path: Path) -> None:
    """An apply that arrives while the operator is in the middle of its tick (its LLM adviser is thinking about an
    agent's question) waits for the tick to end — it gives up after --lock-timeout naming the operator, having
    changed nothing — then syncs the edited plan; the operator's tick neither undoes nor repeats apply's update.
    Without the run's lease the first apply goes ahead inside the operator's tick and this test fails."""
    llm = tmp_path / "llm"
    llm.mkdir()
    (llm / "llm.py").write_text(PAUSING_LLM, encoding="utf-8")
    command = json.dumps(f"{sys.executable} {llm / 'llm.py'}")
    policy = project / ".metawsm" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "operator:\n  llm:\n    mode: assist\n"
                      f"    command: {command}\n    timeout_seconds: 300\n", encoding="utf-8")
    plan = write_plan(project, "one", ASKERS)
    code, out, err = finish(metawsm(project, "apply", "plans/one.yaml", "--json"))
    assert code == 0, out + err
    run_id = json.loads(out)["runs"][0]["run_id"]
    before = agent_rows(project, run_id)
    operator = metawsm(project, "operator", "--interval", "0.2", "-v")
    try:
        wait_for(lambda: (llm / "in-tick").exists(), 120, "the operator to consult its adviser about a question")
        lease = engine(project).store.lease_holder(run_id)
        assert lease is not None and (lease.holder_pid, lease.command) == (operator.pid, "metawsm operator")
        plan.write_text(f"name: one\n{ASKERS.replace('sleep 300', 'sleep 301')}", encoding="utf-8")
        commit_all(project, "edit the agents")

        code, out, err = finish(metawsm(project, "apply", "plans/one.yaml", "--json", "--lock-timeout", "1"))
        assert code == 1 and json.loads(out)["error"]["code"] == "lease_busy", out + err
        assert f"locked by pid {operator.pid}" in json.loads(out)["error"]["message"]
        assert agent_rows(project, run_id) == before  # the refused apply changed nothing
        assert [a.attempt for a in engine(project).store.list_agents(run_id)] == [1, 1]

        waiting = metawsm(project, "apply", "plans/one.yaml", "--json", "--lock-timeout", "120")
        wait_for(lambda: (engine(project).store.lease_holder("plan:one") or lease).holder_pid == waiting.pid,
                 60, "the second apply to hold the plan's lease and wait for the run's")
        assert waiting.poll() is None and agent_rows(project, run_id) == before
        (llm / "go").write_text("", encoding="utf-8")  # the operator's tick ends; the apply goes on
        code, out, err = finish(waiting)
        assert code == 0, out + err
        after = agent_rows(project, run_id)
        graph = {s["id"]: s["definition_hash"] for s in json.loads(engine(project).store.get_run(run_id).graph_json)
                 ["steps"] if s["kind"] == "agent"}
        assert {sid: h for sid, (h, _) in after.items()} == graph != {sid: h for sid, (h, _) in before.items()}
        assert all("sleep 301" in command for _, command in after.values())
        wait_for(lambda: all(a.attempt == 2 and a.status == "running"
                             for a in engine(project).store.list_agents(run_id)), 60, "attempt 2 of every agent")
        assert agent_rows(project, run_id) == after  # later operator ticks did not undo apply's sync
    finally:
        (llm / "go").write_text("", encoding="utf-8")
        operator.send_signal(signal.SIGINT)
        code, out, err = finish(operator, 60)
    assert code in (0, 130), out + err
    assert "illegal" not in err.lower() and "traceback" not in err.lower(), err
    assert [a.attempt for a in engine(project).store.list_agents(run_id)] == [2, 2]  # one restart per change


def test_a_waiting_command_gives_up_after_lock_timeout_naming_the_holder(project: Path, cli, holders) -> None:  # type: ignore[no-untyped-def]
    run_id = started_run(project, cli)
    holder = Holder(project, run_id, "close")
    holders.append(holder)
    code, out, err = finish(metawsm(project, "stop", "--run", run_id, "--lock-timeout", "0.5"))
    assert code == 1, out + err
    assert f"run {run_id} is locked by pid {holder.pid} on {socket.gethostname()} (metawsm close), since " in err
    assert "waited 0.5s" in err and "--lock-timeout" in err
    assert engine(project).store.get_run(run_id).status == "running"  # the refused stop changed nothing
    code, out, err = finish(metawsm(project, "stop", "--run", run_id, "--json", "--lock-timeout", "0.2"))
    assert code == 1 and json.loads(out)["error"]["code"] == "lease_busy", out + err
    holder.release()
    code, out, err = finish(metawsm(project, "stop", "--run", run_id, "--lock-timeout", "0.5"))
    assert code == 0, out + err
    assert engine(project).store.get_run(run_id).status == "stopped"


def test_a_waiting_command_proceeds_once_the_holder_is_done(project: Path, cli, holders) -> None:  # type: ignore[no-untyped-def]
    run_id = started_run(project, cli)
    holder = Holder(project, run_id, "apply")
    holders.append(holder)
    waiting = metawsm(project, "stop", "--run", run_id, "--lock-timeout", "120")
    time.sleep(1.5)  # the stop has started and polls the lease meanwhile
    assert waiting.poll() is None  # still waiting while the holder works
    lease = engine(project).store.lease_holder(run_id)
    assert lease is not None and (lease.holder_pid, lease.command) == (holder.pid, "metawsm apply")
    holder.release()
    code, out, err = finish(waiting)
    assert code == 0, out + err
    assert engine(project).store.get_run(run_id).status == "stopped"


def test_a_sigkilled_holders_lease_is_taken_over(project: Path, cli, holders) -> None:  # type: ignore[no-untyped-def]
    run_id = started_run(project, cli)
    holder = Holder(project, run_id, "close", env={"METAWSM_LEASE_TTL": "600"})
    holders.append(holder)
    lease = engine(project).store.lease_holder(run_id)
    assert lease is not None and lease.holder_pid == holder.pid and lease.expires_at > time.time() + 300
    holder.kill()  # no release: the row stays, naming a dead pid on this host
    assert engine(project).store.lease_holder(run_id) is not None
    code, out, err = finish(metawsm(project, "stop", "--run", run_id, "--lock-timeout", "0"))
    assert code == 0, out + err
    assert engine(project).store.get_run(run_id).status == "stopped"
    assert engine(project).store.lease_holder(run_id) is None  # released after the stop


def test_the_heartbeat_keeps_a_long_operations_lease(project: Path, cli, holders) -> None:  # type: ignore[no-untyped-def]
    run_id = started_run(project, cli)
    ttl = {"METAWSM_LEASE_TTL": "1"}
    holder = Holder(project, run_id, "close", env=ttl)
    holders.append(holder)
    first = engine(project).store.lease_holder(run_id)
    assert first is not None
    # well past several ttls: without renewal the lease would have expired and been taken over
    wait_for(lambda: time.time() > first.acquired_at + 4, timeout=30, what="four lease ttls")
    current = engine(project).store.lease_holder(run_id)
    assert current is not None and current.token == first.token and current.expires_at > first.expires_at + 2
    code, out, err = finish(metawsm(project, "reconcile", "--run", run_id, "--lease-wait", "0", env=ttl))
    assert code == 1 and f"locked by pid {holder.pid}" in err, out + err
    holder.release()
    assert engine(project).store.lease_holder(run_id) is None
    code, out, err = finish(metawsm(project, "reconcile", "--run", run_id, "--lease-wait", "0", env=ttl))
    assert code == 0, out + err


def test_status_writes_health_only_under_the_lease(project: Path, cli, holders, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    run_id = started_run(project, cli)
    eng = engine(project)
    agent = eng.store.list_agents(run_id)[0]
    subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", f"={agent.session}"], check=True)
    holder = Holder(project, run_id, "apply")
    holders.append(holder)
    code, out, err = finish(metawsm(project, "status", "--json"))
    assert code == 0, out + err
    shown = {a["key"]: a for a in json.loads(out)["runs"][0]["agents"]}[f"{agent.ticket}/{agent.name}"]
    assert shown["health"] == "dead"  # evaluated and shown ...
    row = engine(project).store.get_agent(run_id, agent.ticket, agent.name)
    assert (row.status, row.health) == ("running", agent.health)  # ... but not written: another holds the lease
    holder.release()
    assert finish(metawsm(project, "status", "--json"))[0] == 0
    assert engine(project).store.get_agent(run_id, agent.ticket, agent.name).status == "dead"
