"""Real processes writing one state.db at once, and the per-run lease."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from pathlib import Path

import pytest

from metawsm.errors import StateError
from metawsm.state import StateStore
from metawsm.state.lease import pid_alive

pytestmark = pytest.mark.reliability

CTX = mp.get_context("fork")
ROUNDS = 100


def _worker(path: str, index: int, start: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[name-defined]
    try:
        store = StateStore(path)
        start.wait(timeout=20)
        ticket = f"T{index}"
        store.upsert_agent("r1", ticket, "a", "shell", f"s-{index}")
        store.transition_agent("r1", ticket, "a", "running", "start")
        for i in range(ROUNDS):
            store.upsert_step("r1", f"step:{index}:{i}", "shell", ticket, None, f"d{i}")
            store.transition_step("r1", f"step:{index}:{i}", "running")
            store.transition_step("r1", f"step:{index}:{i}", "done")
            store.transition_agent("r1", ticket, "a", "idle" if i % 2 == 0 else "running")
            store.upsert_step("r1", "shared", "shell", None, None, f"d{index}")
            # every process races to start the same step: one transition, the rest are no-ops
            store.transition_step("r1", "shared", "running")
        out.put(("ok", index, ""))
    except BaseException:  # report everything, including "database is locked"
        out.put(("error", index, traceback.format_exc()))


def test_four_processes_write_at_once_without_lock_errors(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = StateStore(path)
    store.create_run("r1", "p", "h", "{}")
    start = CTX.Barrier(4)
    out: mp.Queue = CTX.Queue()  # type: ignore[type-arg]
    procs = [CTX.Process(target=_worker, args=(path, i, start, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors[0][2]
    steps = store.list_steps("r1")
    assert len(steps) == 4 * ROUNDS + 1
    assert all(s.status == "done" and s.attempts == 1 for s in steps if s.step_id != "shared")
    shared = store.get_step("r1", "shared")
    assert shared.status == "running" and shared.attempts == 1
    # per process: agent start + ROUNDS agent moves + 2 per own step; plus one shared step start
    assert len(store.audit("r1", limit=None)) == 4 * (1 + ROUNDS + 2 * ROUNDS) + 1


def _holder(path: str, start: mp.synchronize.Barrier, out: mp.Queue, hold: float) -> None:  # type: ignore[name-defined]
    store = StateStore(path)
    start.wait(timeout=20)
    lease = store.acquire_lease("r1", ttl=30)
    out.put((os.getpid(), lease is not None))
    time.sleep(hold)


def test_two_processes_only_one_holds_the_lease(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    StateStore(path).create_run("r1", "p", "h", "{}")
    start = CTX.Barrier(2)
    out: mp.Queue = CTX.Queue()  # type: ignore[type-arg]
    procs = [CTX.Process(target=_holder, args=(path, start, out, 0.5)) for _ in range(2)]
    for p in procs:
        p.start()
    got = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    assert sorted(held for _, held in got) == [False, True]


def test_sigkilled_holder_lease_is_taken_over(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = StateStore(path)
    store.create_run("r1", "p", "h", "{}")
    start = CTX.Barrier(2)
    out: mp.Queue = CTX.Queue()  # type: ignore[type-arg]
    proc = CTX.Process(target=_holder, args=(path, start, out, 60.0))
    proc.start()
    start.wait(timeout=20)
    pid, held = out.get(timeout=30)
    assert held and pid == proc.pid
    assert store.acquire_lease("r1") is None
    with pytest.raises(StateError, match=f"pid {pid}"), store.lease("r1"):
        pass
    os.kill(pid, signal.SIGKILL)
    proc.join(timeout=10)
    assert not pid_alive(pid)
    lease = store.acquire_lease("r1")
    assert lease is not None and lease.holder_pid == os.getpid()


def test_lease_expiry_renew_release(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    # a live holder on another host (pid cannot be checked) keeps it until expiry
    with store.db.write() as conn:
        conn.execute("INSERT INTO leases VALUES ('r1', 1, 'elsewhere', 'tok', 0, ?, 'metawsm apply')",
                     (time.time() + 60,))
    assert store.acquire_lease("r1") is None
    with store.db.write() as conn:
        conn.execute("UPDATE leases SET expires_at = ?", (time.time() - 1,))
    lease = store.acquire_lease("r1", ttl=0.2)
    assert lease is not None
    assert store.acquire_lease("r1") is None  # we are alive: our own lease is not taken twice
    renewed = store.renew_lease(lease, ttl=30)
    assert renewed.expires_at > lease.expires_at and renewed.token == lease.token
    with store.db.write() as conn:  # simulate expiry and takeover by someone else
        conn.execute("UPDATE leases SET token = 'other'")
    with pytest.raises(StateError, match="lost"):
        store.renew_lease(renewed)
    assert store.release_lease(renewed) is False
    with store.db.write() as conn:
        conn.execute("DELETE FROM leases")
    with store.lease("r1") as held:
        assert store.lease_holder("r1") == held
    assert store.lease_holder("r1") is None
    assert held.to_json()["expires_at"]


def test_lease_context_waits_for_release(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with store.db.write() as conn:
        conn.execute("INSERT INTO leases VALUES ('r1', 1, 'elsewhere', 'tok', 0, ?, '')", (time.time() + 0.3,))
    started = time.monotonic()
    with store.lease("r1", wait=5, poll=0.05):
        assert time.monotonic() - started >= 0.2


def _opener(path: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[name-defined]
    try:
        start.wait(timeout=20)
        store = StateStore(path)
        store.create_run(f"r{os.getpid()}", f"p{os.getpid()}", "h", "{}")
        out.put(("ok", store.schema_version()))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def test_processes_creating_a_fresh_database_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh" / "state.db")
    start = CTX.Barrier(4)
    out: mp.Queue = CTX.Queue()  # type: ignore[type-arg]
    procs = [CTX.Process(target=_opener, args=(path, start, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    assert all(r[0] == "ok" for r in results), results
    assert len(StateStore(path).list_runs()) == 4
