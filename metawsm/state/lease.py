"""One lease per run: the process holding it may change the run (see ``metawsm.engine.locking``).

A lease row names its holder (pid, host, command), a random token, when it was taken and when it expires.
``acquire_lease`` takes a free lease, an expired one, or one whose holder process is gone on this host (pid
not alive, or a zombie); a live holder on this or another host makes it return None. Holders renew well
before ``expires_at`` (a heartbeat thread does). A pid reused by an unrelated process after a crash keeps
the lease until it expires (bounded by ttl). Lease keys are run ids, or ``plan:<name>`` for what must be
serialized before a run exists (apply creating a plan's run).
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from metawsm.errors import StateError
from metawsm.state.db import Database, now
from metawsm.state.models import Lease


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state != ["Z"]


def _hostname() -> str:
    import socket  # here, not at the top: the state store is opened by the git hooks, and socket is not free

    return socket.gethostname()


def _holder_gone(row: sqlite3.Row, at: float) -> bool:
    if row["expires_at"] <= at:
        return True
    return row["holder_host"] == _hostname() and not pid_alive(int(row["holder_pid"]))


def describe_holder(lease: Lease | None, at: float | None = None) -> str:
    """``pid 42 on host-a (metawsm apply), since 20:51:03 UTC, lease expires in 25s`` — for messages."""
    if lease is None:
        return "another process (it has just let go)"
    at = now() if at is None else at
    since = datetime.fromtimestamp(lease.acquired_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    what = f" ({lease.command})" if lease.command else ""
    return (f"pid {lease.holder_pid} on {lease.holder_host}{what}, since {since}, "
            f"lease expires in {max(lease.expires_at - at, 0):.0f}s")


class LeaseMixin:
    db: Database

    def acquire_lease(self, run_id: str, ttl: float = 30, *, command: str = "") -> Lease | None:
        """Take the run's lease for ``ttl`` seconds, or None while another live holder has it."""
        at = now()
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM leases WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None and not _holder_gone(row, at):
                return None
            lease = Lease(run_id, os.getpid(), _hostname(), uuid.uuid4().hex, at, at + ttl, command[:200])
            conn.execute(
                "INSERT OR REPLACE INTO leases (run_id, holder_pid, holder_host, token, acquired_at, expires_at,"
                " command) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lease.run_id, lease.holder_pid, lease.holder_host, lease.token, lease.acquired_at,
                 lease.expires_at, lease.command),
            )
            return lease

    def lease_holder(self, run_id: str) -> Lease | None:
        rows = self.db.read("SELECT * FROM leases WHERE run_id = ?", (run_id,))
        return Lease.from_row(rows[0]) if rows else None

    def renew_lease(self, lease: Lease, ttl: float = 30) -> Lease:
        """Extend a held lease; StateError if it was lost (expired and taken over)."""
        at = now()
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE leases SET expires_at = ? WHERE run_id = ? AND token = ?",
                (at + ttl, lease.run_id, lease.token),
            )
            if cur.rowcount != 1:
                raise StateError(f"lease on run {lease.run_id} was lost (taken over by another process)")
        return Lease(lease.run_id, lease.holder_pid, lease.holder_host, lease.token, lease.acquired_at, at + ttl,
                     lease.command)

    def release_lease(self, lease: Lease) -> bool:
        """Give the lease back; False if it was no longer ours."""
        with self.db.write() as conn:
            cur = conn.execute("DELETE FROM leases WHERE run_id = ? AND token = ?", (lease.run_id, lease.token))
            return cur.rowcount == 1

    @contextmanager
    def lease(self, run_id: str, ttl: float = 30, *, wait: float = 0, poll: float = 0.1) -> Iterator[Lease]:
        """Hold the run's lease for the block (waiting up to ``wait`` seconds); StateError if it is held.
        Commands use ``metawsm.engine.locking.operation`` instead (heartbeat, re-entrant, holder named)."""
        deadline = time.monotonic() + wait
        while True:
            held = self.acquire_lease(run_id, ttl)
            if held is not None:
                break
            if time.monotonic() >= deadline:
                holder = self.lease_holder(run_id)
                who = f"pid {holder.holder_pid} on {holder.holder_host}" if holder else "another process"
                raise StateError(
                    f"run {run_id} is being advanced by {who}",
                    hint="wait for it to finish, or retry once its lease expires",
                )
            time.sleep(poll)
        try:
            yield held
        finally:
            self.release_lease(held)
