"""The SQLite index (`forum.db`, WAL): a cache of the log, caught up incrementally from a stored
byte offset, one transaction per chunk. A missing, truncated or garbage database is rebuilt from the
log on the next read; a rebuild is built aside and swapped in atomically."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from metawsm.errors import ForumError
from metawsm.forum import bulk, projector, reads
from metawsm.forum.log import EventLog, LogCorrupt, Problem
from metawsm.forum.schema_sql import INDEXES_DDL, POSTS_DDL, SCHEMA, SEARCH_DDL, TABLES_DDL, VERSION

log = logging.getLogger(__name__)

CATCH_UP_IN_WRITE = 4 << 20  # a longer lag is caught up in chunks before the write transaction
BUILD_CACHE_KIB = 16 << 10  # page cache of the rebuild connection (peak RSS stays far below 100 MB)
BUILD_PAGE_SIZE = 16384


class Index:
    """One process's handle on `forum.db`."""

    def __init__(self, db_path: Path, log_: EventLog) -> None:
        self.path = db_path
        self.log = log_
        self._conn: sqlite3.Connection | None = None
        self._ino: int | None = None
        self._tx: sqlite3.Connection | None = None  # the connection of the open write transaction
        self._pos = (0, 0)  # (offset, line) that transaction has reached

    # -- connection -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, reopened when another process swapped in a rebuilt file."""
        try:
            ino = self.path.stat().st_ino
        except FileNotFoundError:
            ino = None
        if self._conn is None or ino != self._ino:
            self.close()
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if version != VERSION:
                if version != 0:
                    raise sqlite3.DatabaseError(f"index schema version {version}, expected {VERSION}")
                conn.execute("BEGIN IMMEDIATE")
                with conn:
                    if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                        for stmt in SCHEMA.split(";"):
                            if stmt.strip():
                                conn.execute(stmt)
                        # the position starts at 0, as a rebuild records it (an empty log: same index)
                        conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", (("offset", 0), ("line", 0)))
                        conn.execute(f"PRAGMA user_version = {int(VERSION)}")
            reads.attach(conn, reads.path_for(self.path))
        except BaseException:
            conn.close()
            with contextlib.suppress(OSError):  # so that rebuild(only_if_ino=...) replaces THIS file
                self._ino = self.path.stat().st_ino
            raise
        self._ino = self.path.stat().st_ino
        return conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    # -- catching up ------------------------------------------------------------------------
    def catch_up(self) -> sqlite3.Connection:
        """Bring the index level with the log, healing a broken database once; returns the
        connection that was caught up (use it for the reads that follow)."""
        try:
            conn = self.conn
            self._catch_up(conn)
        except LogCorrupt:
            raise
        except sqlite3.DatabaseError as exc:
            log.warning("forum index %s unusable (%s); rebuilding from the log", self.path, exc)
            self.rebuild(only_if_ino=self._ino)
            conn = self.conn
            self._catch_up(conn)
        return conn

    def _position(self, conn: sqlite3.Connection) -> tuple[int, int]:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('offset', 'line')").fetchall())
        return rows.get("offset", 0), rows.get("line", 0)

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        while True:
            offset, _ = self._position(conn)
            size = self.log.size()
            if size == offset:
                return
            if size < offset:
                raise sqlite3.DatabaseError("the log is shorter than the indexed offset")
            conn.execute("BEGIN IMMEDIATE")
            with conn:
                offset, line = self._position(conn)
                done = True
                problems: list[Problem] = []
                for events, end, end_line in self.log.read(offset, line, after=_last_seq(conn),
                                                           problems=problems):
                    projector.apply(conn, events)
                    record_problems(conn, problems)
                    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                     (("offset", end), ("line", end_line)))
                    done = False
                    break  # one transaction per chunk
            if done:
                return

    # -- writing (the caller holds the log lock) -----------------------------------------------
    def begin_write(self, log_end: int) -> sqlite3.Connection:
        """Open the write transaction of one append: BEGIN IMMEDIATE with the index caught up to
        `log_end` (the repaired end of the locked log) inside it, so that the catch-up, the checks
        and the projection of the new events commit once. A long lag is caught up first, in chunks."""
        conn = self.conn
        if log_end - self._position(conn)[0] > CATCH_UP_IN_WRITE:
            self._catch_up(conn)
        conn.execute("BEGIN IMMEDIATE")
        self._tx = conn
        try:
            offset, line = self._position(conn)
            if offset > log_end:
                raise sqlite3.DatabaseError("the log is shorter than the indexed offset")
            problems: list[Problem] = []
            for events, end, end_line in self.log.read(offset, line, after=_last_seq(conn), problems=problems):
                projector.apply(conn, events)
                offset, line = end, end_line
            record_problems(conn, problems)
            self._pos = (offset, line)
        except BaseException:
            self.rollback()
            raise
        return conn

    def apply_written(self, events: list[dict[str, Any]], end: int) -> None:
        """Project events just written (ending at byte `end`) in the open write transaction."""
        assert self._tx is not None
        projector.apply(self._tx, events)
        self._pos = (end, self._pos[1] + len(events))

    def commit(self) -> None:
        """Record the position reached and commit the write transaction."""
        conn, self._tx = self._tx, None
        assert conn is not None
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                         (("offset", self._pos[0]), ("line", self._pos[1])))
        conn.execute("COMMIT")

    def rollback(self) -> None:
        conn, self._tx = self._tx, None
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    # -- rebuilding -------------------------------------------------------------------------
    def rebuild(self, *, only_if_ino: int | None = None) -> int:
        """Rebuild from the whole log into a side file and swap it in; returns events indexed.
        With `only_if_ino`, skip when another process already replaced that database file."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if only_if_ino is not None:
                with contextlib.suppress(FileNotFoundError):
                    if self.path.stat().st_ino != only_if_ino:
                        self.close()
                        return -1
            self.close()
            tmp = self.path.with_name(f"{self.path.name}.rebuild-{os.getpid()}")
            for p in (tmp, Path(f"{tmp}-journal")):
                p.unlink(missing_ok=True)
            count = build(tmp, self.log)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            tmp.replace(self.path)
            return count
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)


def build(path: Path, log_: EventLog) -> int:
    """Write a complete index of `log_` into a new database file at `path` (see bulk.py).

    A throwaway file written in one transaction, with no journal and no fsync (the caller renames it
    into place, so a crash leaves only a side file): the base tables are loaded first, then the
    secondary indexes are created and the derived columns and the full-text table are filled by a few
    statements over the loaded rows, much cheaper than maintaining them row by row."""
    conn = sqlite3.connect(path, isolation_level=None)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the parsed events form no cycles: collecting them is pure overhead (~10% of a rebuild)
    try:
        conn.execute(f"PRAGMA page_size = {BUILD_PAGE_SIZE:d}")  # before the first table: 5-10% less work
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute(f"PRAGMA cache_size = {-BUILD_CACHE_KIB:d}")
        conn.executescript(TABLES_DDL + POSTS_DDL)
        conn.execute("BEGIN")
        count, offset, line = bulk.load(conn, log_, lambda problems: record_problems(conn, problems))
        for stmt in (INDEXES_DDL + SEARCH_DDL).split(";"):
            if stmt.strip():
                conn.execute(stmt)
        bulk.finish(conn)
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", (("offset", offset), ("line", line)))
        conn.execute(f"PRAGMA user_version = {int(VERSION)}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise ForumError(f"cannot build the forum index at {path}: {exc}") from exc
    finally:
        conn.close()
        if gc_was_enabled:
            gc.enable()
    return count


SKIPPED_PREFIX = "skipped:"  # meta rows `skipped:<byte offset>` -> line number of a skipped log line


def record_problems(conn: sqlite3.Connection, problems: list[Problem]) -> None:
    """Remember skipped log lines (for health and doctor), then forget them from the list."""
    if problems:
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                         [(f"{SKIPPED_PREFIX}{p.offset:020d}", p.line) for p in problems])
        problems.clear()


def skipped_lines(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """(line, byte offset) of every log line the index skipped."""
    rows = conn.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                        (SKIPPED_PREFIX, SKIPPED_PREFIX[:-1] + ";")).fetchall()
    return [(int(v), int(k[len(SKIPPED_PREFIX):])) for k, v in rows]


def _last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(sequence), 0) FROM events").fetchone()[0])
