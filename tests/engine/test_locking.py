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


def test_apply_racing_the_operator_loses_no_update(project: Path) -> None:
    plan = write_plan(project, "one", SLEEPER)
    operator = metawsm(project, "operator", "--interval", "0.1", "-v")
    try:
        for n in range(4):  # each apply changes the agents' command while the operator ticks
            plan.write_text(f"name: one\n{SLEEPER.replace('sleep 300', f'sleep {300 + n}')}", encoding="utf-8")
            commit_all(project, f"edit {n}")
            code, out, err = finish(metawsm(project, "apply", "plans/one.yaml", "--json", "--lock-timeout", "60"))
            assert code == 0, out + err
            data = json.loads(out)["runs"][0]
            assert data["status"] == "running", data
            eng = engine(project)
            run = eng.store.get_run(data["run_id"])
            graph = json.loads(run.graph_json)
            wanted = {s["id"]: s["definition_hash"] for s in graph["steps"]}
            rows = {s.step_id: s for s in eng.store.list_steps(run.run_id)}
            assert {sid: rows[sid].definition_hash for sid in wanted} == wanted  # apply's sync was not undone
            assert all(f"sleep {300 + n}" in json.loads(rows[f"agent:{t}:w"].fields_json)["command"]
                       for t in ("DEMO-1", "DEMO-2"))
            run_id, attempt = run.run_id, n + 1
            wait_for(lambda: all(a.attempt == attempt and a.status == "running"  # noqa: B023
                                 for a in engine(project).store.list_agents(run_id)),  # noqa: B023
                     what=f"attempt {attempt} of every agent")
    finally:
        operator.send_signal(signal.SIGINT)
        code, out, err = finish(operator, 60)
    assert code in (0, 130), out + err
    assert "illegal" not in err.lower() and "traceback" not in err.lower(), err
    eng = engine(project)
    (run,) = eng.store.list_runs()
    assert [a.attempt for a in eng.store.list_agents(run.run_id)] == [4, 4]  # one restart per change, no more


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
