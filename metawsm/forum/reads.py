"""Read marks (`seen`): one row per (thread, viewer) in `reads.db`, beside the index — not events in
the log, so marking a thread read neither grows every timeline nor wakes every open stream (the Go
metawsm kept a read-mark row too). `reads.db` is state, not a cache: rebuilding or deleting
`forum.db` keeps it. Logs written before this change carry `forum.thread.seen` events; the index still
projects them into its own `reads` table, and the first open of `reads.db` copies those marks over.

The index connection ATTACHes `reads.db` as `marks`, so the thread queries join the viewer's marks."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

DDL = """
CREATE TABLE IF NOT EXISTS reads (
  thread_id TEXT NOT NULL, viewer_type TEXT NOT NULL, viewer_id TEXT NOT NULL,
  last_seen_event_sequence INTEGER NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (thread_id, viewer_type, viewer_id)) WITHOUT ROWID;
"""
VERSION = 1


def path_for(index_path: Path) -> Path:
    return index_path.with_name("reads.db")


def ensure(path: Path, index_conn: sqlite3.Connection | None = None) -> None:
    """Create `reads.db` if needed; on creation, copy the marks a legacy log's seen events left in
    the index (`index_conn`'s `reads` table)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(DDL)
        if index_conn is not None:
            with contextlib.suppress(sqlite3.Error):
                rows = index_conn.execute("SELECT thread_id, viewer_type, viewer_id, last_seen_event_sequence, "
                                          "updated_at FROM main.reads").fetchall()
                conn.execute("BEGIN")
                conn.executemany("INSERT OR REPLACE INTO reads VALUES (?,?,?,?,?)", rows)
                conn.execute("COMMIT")
        conn.execute(f"PRAGMA user_version = {VERSION:d}")
    finally:
        conn.close()
    with contextlib.suppress(FileExistsError):  # another process created it first: keep theirs
        os.link(tmp, path)  # atomic, and never replaces a file someone already writes marks to
    tmp.unlink(missing_ok=True)


def attach(conn: sqlite3.Connection, path: Path) -> None:
    """Attach `reads.db` to an index connection as `marks` (creating it on first use)."""
    ensure(path, conn)
    names = {row[1] for row in conn.execute("PRAGMA database_list")}
    if "marks" not in names:
        conn.execute("ATTACH DATABASE ? AS marks", (str(path),))


def mark(path: Path, thread_id: str, viewer_type: str, viewer_id: str, sequence: int,
         at: str) -> tuple[int, str]:
    """Raise the viewer's mark to `sequence` (never lower it) in one statement on a connection of its
    own (a write here never locks the index); returns (mark, updated_at)."""
    ensure(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(
            "INSERT INTO reads VALUES (?,?,?,?,?) ON CONFLICT (thread_id, viewer_type, viewer_id) DO UPDATE "
            "SET last_seen_event_sequence = excluded.last_seen_event_sequence, updated_at = excluded.updated_at "
            "WHERE excluded.last_seen_event_sequence > reads.last_seen_event_sequence",
            (thread_id, viewer_type, viewer_id, sequence, at))
        row = conn.execute("SELECT last_seen_event_sequence, updated_at FROM reads WHERE thread_id = ? AND "
                           "viewer_type = ? AND viewer_id = ?", (thread_id, viewer_type, viewer_id)).fetchone()
    finally:
        conn.close()
    return int(row[0]), str(row[1])


def get(conn: sqlite3.Connection, thread_id: str, viewer_type: str, viewer_id: str) -> tuple[int, str] | None:
    row = conn.execute("SELECT last_seen_event_sequence, updated_at FROM marks.reads WHERE thread_id = ? AND "
                       "viewer_type = ? AND viewer_id = ?", (thread_id, viewer_type, viewer_id)).fetchone()
    return (int(row[0]), str(row[1])) if row else None
