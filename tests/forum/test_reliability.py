"""Real processes, real files: concurrency, SIGKILL mid-append, idempotent retries."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from metawsm.forum import Forum

pytestmark = pytest.mark.reliability
WORKER = Path(__file__).with_name("_worker.py")
ROOT = Path(__file__).parents[2]
HUMAN = {"actor_type": "human", "actor_name": "alice"}


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE)


def _log_sequences(path: Path) -> list[int]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line)["sequence"] for line in data.splitlines()]


def test_eight_processes_two_thousand_appends_each(forum_dir: Path) -> None:
    f = Forum(forum_dir)
    tid = f.open_thread("ABC-1", "load", "go", **HUMAN).thread_id
    f.shutdown()
    start = str(time.time() + 1.0)
    procs = [_spawn("post", str(forum_dir), f"{tid}:2000", start, "batch") for _ in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    seqs = _log_sequences(forum_dir / "events.jsonl")
    assert seqs == list(range(1, 16002))  # the opening event plus 16,000 posts
    f = Forum(forum_dir)
    assert f.get_thread(tid)[0].posts_count == 16001
    assert f.events(16000, 10)[0][0].sequence == 16001


def _child_appends(forum_dir: Path) -> None:
    try:
        f = Forum(forum_dir, fsync="batch")
        big = "x" * 200_000
        tid = f.list_threads(limit=1)[0].thread_id
        while True:
            f.post(tid, big, actor_type="agent", actor_name="victim")
    finally:
        os._exit(0)


def test_sigkill_mid_append_never_breaks_the_log(forum_dir: Path) -> None:
    f = Forum(forum_dir, max_body_bytes=1 << 20)
    f.open_thread("ABC-1", "crash", "go", **HUMAN)
    f.shutdown()
    rng = random.Random(4)
    torn = 0
    for _ in range(100):
        pid = os.fork()
        if pid == 0:
            _child_appends(forum_dir)
        time.sleep(rng.uniform(0.002, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        data = (forum_dir / "events.jsonl").read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        torn += complete != data
        seqs = [orjson.loads(line)["sequence"] for line in complete.splitlines()]
        assert seqs == list(range(1, len(seqs) + 1))
        g = Forum(forum_dir, max_body_bytes=1 << 20)
        t = g.list_threads(limit=1)[0]
        after = g.post(t.thread_id, "repair", **HUMAN)
        assert after.last_event_sequence == len(seqs) + 1
        g.shutdown()
        assert _log_sequences(forum_dir / "events.jsonl") == list(range(1, len(seqs) + 2))
    g = Forum(forum_dir)
    assert g.reindex() == len(_log_sequences(forum_dir / "events.jsonl"))
    print(f"torn tails repaired: {torn}/100")


def test_idempotent_retry_from_two_processes(forum_dir: Path) -> None:
    start = str(time.time() + 1.0)
    procs = [_spawn("idem", str(forum_dir), "50", start) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    events = [orjson.loads(x) for x in (forum_dir / "events.jsonl").read_bytes().splitlines()]
    keys = [e["idempotency_key"] for e in events if e["idempotency_key"]]
    assert sorted(keys) == sorted(f"key-{i}" for i in range(50))
    assert sum(e["event_type"] == "forum.thread.opened" for e in events) == 1


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage"])
def test_index_damaged_while_other_processes_write(forum_dir: Path, damage: str) -> None:
    f = Forum(forum_dir)
    tid = f.open_thread("ABC-1", "load", "go", **HUMAN).thread_id
    f.shutdown()
    procs = [_spawn("post", str(forum_dir), f"{tid}:200", str(time.time() + 0.5), "batch") for _ in range(2)]
    time.sleep(0.8)
    db = forum_dir.parent / "forum.db"
    if damage == "deleted":
        db.unlink(missing_ok=True)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:4096])
    else:
        db.write_bytes(os.urandom(20000))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    g = Forum(forum_dir)
    assert g.get_thread(tid)[0].posts_count == 401
    assert g.events(0, 1000)[1] == 401
