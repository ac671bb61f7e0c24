"""SQLite plumbing for state.db: connection settings, write transactions, migrations by ``user_version``.

Connections run in autocommit mode (``isolation_level=None``); every write goes through :func:`write`,
which opens ``BEGIN IMMEDIATE`` (the write lock is taken up front, so the busy timeout applies and two
processes never deadlock upgrading a read to a write) and commits or rolls back with ``with conn:``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from metawsm.errors import StateError

BUSY_TIMEOUT_MS = 15_000

_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_ACTIVE = "r.status NOT IN ('closed', 'ended')"
_NEWER = ("SELECT 1 FROM runs n WHERE n.plan_name = r.plan_name AND n.status NOT IN ('closed', 'ended')"
          " AND (n.created_at > r.created_at OR (n.created_at = r.created_at AND n.rowid > r.rowid))")

# Each entry is one migration: a list of statements run in one transaction. Never edit a shipped entry;
# append a new one. The schema version is len(MIGRATIONS), stored in PRAGMA user_version.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            plan_name TEXT NOT NULL,
            plan_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            last_error TEXT,
            graph_json TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX runs_plan_status ON runs(plan_name, status)",
        "CREATE INDEX runs_status ON runs(status)",
        "CREATE INDEX runs_created ON runs(created_at)",
        """CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            step_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            ticket TEXT,
            agent TEXT,
            status TEXT NOT NULL,
            definition_hash TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            output_log TEXT,
            started_at REAL,
            finished_at REAL,
            next_attempt_at REAL,
            fields_json TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, step_id)
        )""",
        "CREATE INDEX steps_ticket ON steps(ticket, run_id)",
        """CREATE TABLE agents (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            ticket TEXT NOT NULL,
            name TEXT NOT NULL,
            profile TEXT NOT NULL,
            status TEXT NOT NULL,
            health TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            session TEXT NOT NULL,
            pane_pid INTEGER,
            last_activity_at REAL,
            last_progress_at REAL,
            last_pane_hash TEXT,
            exit_status INTEGER,
            stopped_by_user INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, ticket, name)
        )""",
        "CREATE INDEX agents_status ON agents(status)",
        "CREATE INDEX agents_ticket ON agents(ticket, run_id)",
        """CREATE TABLE transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            entity TEXT NOT NULL CHECK (entity IN ('run', 'step', 'agent')),
            entity_id TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL
        )""",
        "CREATE INDEX transitions_run ON transitions(run_id, id)",
        """CREATE TABLE operator_agent_state (
            run_id TEXT NOT NULL,
            ticket TEXT NOT NULL,
            agent TEXT NOT NULL,
            consecutive_unhealthy INTEGER NOT NULL DEFAULT 0,
            restart_attempts INTEGER NOT NULL DEFAULT 0,
            last_restart_at REAL,
            cooldown_until REAL,
            last_alert TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, ticket, agent)
        )""",
        """CREATE TABLE leases (
            run_id TEXT PRIMARY KEY,
            holder_pid INTEGER NOT NULL,
            holder_host TEXT NOT NULL,
            token TEXT NOT NULL,
            acquired_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )""",
    ],
    [
        """CREATE TABLE closed_tickets (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            ticket TEXT NOT NULL,
            strategy TEXT NOT NULL,
            base_branch TEXT NOT NULL,
            merged_sha TEXT NOT NULL,
            closed_at REAL NOT NULL,
            PRIMARY KEY (run_id, ticket)
        )""",
    ],
    [
        # Tickets: one lifecycle per ticket of this repository (state.db lives in it), across runs.
        """CREATE TABLE tickets (
            ticket TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            run_id TEXT,
            plan_name TEXT,
            reason TEXT NOT NULL DEFAULT '',
            merged_sha TEXT,
            base_branch TEXT,
            strategy TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX tickets_run ON tickets(run_id)",
        """INSERT INTO tickets (ticket, status, run_id, plan_name, merged_sha, base_branch, strategy, created_at,
                                 updated_at)
            SELECT c.ticket, 'merged', c.run_id, r.plan_name, c.merged_sha, c.base_branch, c.strategy, c.closed_at,
                   c.closed_at
            FROM closed_tickets c JOIN runs r ON r.run_id = c.run_id
            WHERE c.closed_at = (SELECT MAX(closed_at) FROM closed_tickets c2 WHERE c2.ticket = c.ticket)
            GROUP BY c.ticket""",
        # Close intents: recorded before close touches git, completed or rolled back by the next close.
        """CREATE TABLE close_intents (
            ticket TEXT NOT NULL,
            repo TEXT NOT NULL,
            run_id TEXT NOT NULL,
            repo_root TEXT NOT NULL,
            checkout TEXT,
            strategy TEXT NOT NULL,
            branch TEXT NOT NULL,
            base_branch TEXT NOT NULL,
            ticket_sha TEXT NOT NULL,
            base_sha TEXT NOT NULL,
            merge_sha TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (ticket, repo)
        )""",
        # The audit trail learns the ticket entity (SQLite cannot alter a CHECK: rebuild the table).
        """CREATE TABLE transitions_v3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            entity TEXT NOT NULL CHECK (entity IN ('run', 'step', 'agent', 'ticket')),
            entity_id TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL
        )""",
        "INSERT INTO transitions_v3 SELECT * FROM transitions",
        "DROP TABLE transitions",
        "ALTER TABLE transitions_v3 RENAME TO transitions",
        "CREATE INDEX transitions_run ON transitions(run_id, id)",
        # One active run per plan: older duplicates (left by earlier versions) end, then a unique index
        # makes a second one impossible.
        f"""INSERT INTO transitions (run_id, entity, entity_id, from_state, to_state, reason, at)
            SELECT run_id, 'run', run_id, status, 'ended', 'a newer run of the plan is active', {_NOW}
            FROM runs r WHERE {_ACTIVE} AND EXISTS ({_NEWER})""",
        f"""UPDATE runs SET status = 'ended', updated_at = {_NOW}, finished_at = COALESCE(finished_at, {_NOW})
            WHERE {_ACTIVE.replace("r.", "runs.")}
              AND EXISTS ({_NEWER.replace("= r.", "= runs.").replace("> r.", "> runs.")})""",
        f"CREATE UNIQUE INDEX runs_one_active ON runs(plan_name) WHERE {_ACTIVE.replace('r.', '')}",
    ],
    [
        # The lease names the command holding it, so a waiting command can say who it waits for.
        "ALTER TABLE leases ADD COLUMN command TEXT NOT NULL DEFAULT ''",
    ],
    [
        # `metawsm watch` remembers, per viewer, the alerts it has shown (key: a digest of the condition).
        """CREATE TABLE watch_alerts (
            viewer TEXT NOT NULL,
            alert_key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            shown_at REAL NOT NULL,
            PRIMARY KEY (viewer, alert_key)
        )""",
        "CREATE INDEX watch_alerts_run ON watch_alerts(run_id)",
    ],
    [
        # Token usage and cost per agent attempt, as the AI CLI recorded them (agents/usage.py).
        """CREATE TABLE agent_usage (
            run_id TEXT NOT NULL,
            ticket TEXT NOT NULL,
            agent TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            cli TEXT NOT NULL,
            cwd TEXT NOT NULL,
            log TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, ticket, agent, attempt)
        )""",
    ],
    [
        # Agents that report through the daemon (METAWSM_SERVER) carry a token scoped to their own run and
        # agent; only its SHA-256 is stored (state/tokens.py).
        """CREATE TABLE agent_tokens (
            token_hash TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            ticket TEXT NOT NULL,
            agent TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL
        )""",
        "CREATE INDEX agent_tokens_run ON agent_tokens(run_id, agent)",
    ],
    [
        # Why a running step waits (a session queued because its backend has no free slot); cleared on
        # every transition of the step (state/steps.py note_step).
        "ALTER TABLE steps ADD COLUMN note TEXT",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class Select:
    """`SELECT * FROM table` with optional filters; column names come from code, values are bound.

    A filter given an empty list of allowed values matches nothing (`.empty`)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.clauses: list[str] = []
        self.params: list[object] = []
        self.empty = False

    def where(self, clause: str, *params: object) -> Select:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def equal(self, column: str, value: object) -> Select:
        return self if value is None else self.where(f"{column} = ?", value)

    def one_of(self, column: str, values: Iterable[object] | None) -> Select:
        if values is not None:
            wanted = list(values)
            self.empty = self.empty or not wanted
            self.where(f"{column} IN ({', '.join('?' for _ in wanted)})", *wanted)
        return self

    def sql(self, order: str, limit: int | None = None) -> tuple[str, list[object]]:
        text = f"SELECT * FROM {self.table}"
        if self.clauses:
            text += " WHERE " + " AND ".join(self.clauses)
        text += f" ORDER BY {order}"
        params = list(self.params)
        if limit is not None:
            text += " LIMIT ?"
            params.append(int(limit))
        return text, params


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    """Epoch seconds (as stored) to ISO 8601 UTC text (as shown in JSON)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating folders) and configure a connection: WAL, busy timeout, foreign keys; then migrate."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        _set_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        raise StateError(f"cannot open state database {path}: {exc}") from exc
    return conn


def _set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode. Switching needs an exclusive lock, for which SQLite does not always wait (busy_timeout):
    while another process creates and migrates a fresh database, retry until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this database has not seen; returns the resulting schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return version
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state database schema version {version} is newer than this metawsm ({SCHEMA_VERSION})",
            hint="upgrade metawsm",
        )
    conn.execute("BEGIN IMMEDIATE")
    with conn:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for index in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[index]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    return SCHEMA_VERSION


class Database:
    """One connection plus a lock, so a StateStore may be shared by threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        self._lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE, commit on success, roll back on any exception."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"cannot write state database {self.path}: {exc}") from exc
            try:
                with self.conn:
                    yield self.conn
            except sqlite3.Error as exc:
                raise StateError(f"state database write failed ({self.path}): {exc}") from exc

    def read(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"state database read failed ({self.path}): {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self.conn.close()
