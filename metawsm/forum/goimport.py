"""Read a Go metawsm store (its SQLite `.metawsm/metawsm.db`, the schema of kball/metawsm `internal/
store/sqlite.go`) into this forum's shapes: log envelopes with their sequences preserved, read marks,
and the tickets its runs worked on. Read-only on the Go database; nothing here writes."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from metawsm.errors import UsageError
from metawsm.forum import models as m

# The columns this importer reads; a store without them is not the schema it knows.
REQUIRED = {
    "forum_events": ("sequence", "event_id", "event_type", "event_version", "occurred_at", "thread_id", "run_id",
                     "ticket", "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id",
                     "payload_json"),
    "run_tickets": ("run_id", "ticket"),
    "runs": ("run_id", "status", "created_at"),
}
OPTIONAL = {
    "forum_thread_reads": ("thread_id", "viewer_type", "viewer_id", "last_seen_event_sequence", "updated_at"),
    "run_briefs": ("run_id", "ticket", "goal", "done_criteria"),
}


@dataclass
class GoStore:
    events: list[dict[str, Any]] = field(default_factory=list)
    reads: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    tickets: dict[str, dict[str, str]] = field(default_factory=dict)  # ticket -> {goal, done_criteria}
    runs: int = 0


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a store whose schema this importer does not know (naming what differs)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    migrations: list[Any] = []
    if _columns(conn, "schema_migrations"):
        migrations = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    if version or migrations:
        found = migrations[-1] if migrations else version
        raise UsageError(f"{path}: unknown Go metawsm schema version {found}",
                         hint="this importer reads the unversioned schema of kball/metawsm c5ccd82 "
                              "(schema_migrations empty, user_version 0)")
    for table, cols in REQUIRED.items():
        have = _columns(conn, table)
        if not have:
            raise UsageError(f"{path}: not a Go metawsm store (no table {table})",
                             hint="pass the Go metawsm's database, .metawsm/metawsm.db by default")
        missing = [c for c in cols if c not in have]
        if missing:
            raise UsageError(f"{path}: unknown Go metawsm schema: {table} lacks {', '.join(missing)}")


def _time(text: str) -> str:
    """A Go RFC 3339 time (any offset) as RFC 3339 UTC with a Z."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"a Go event time {text!r} is not RFC 3339") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _payload(event_type: str, raw: str) -> dict[str, Any]:
    """Our payload for a Go event: the same object, except a control signal, whose Go payload is
    {body: <control JSON>} and ours the control payload itself (attempt 1 when it has none)."""
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        data = {"body": raw}
    if not isinstance(data, dict):
        data = {"value": raw}
    if event_type == m.CONTROL and isinstance(data.get("body"), str):
        try:
            control = orjson.loads(data["body"])
        except orjson.JSONDecodeError:
            control = None
        if isinstance(control, dict):
            data = {**control}
            data.setdefault("attempt", 1)
    return {k: (v if isinstance(v, str | int | float | bool) or v is None else orjson.dumps(v).decode())
            for k, v in data.items()}


def _envelope(row: sqlite3.Row) -> dict[str, Any]:
    def opt(key: str) -> str | None:
        return row[key] or None

    actor = (row["actor_type"] or "system").lower()
    return {
        "sequence": int(row["sequence"]), "event_id": row["event_id"], "event_type": row["event_type"],
        "event_version": int(row["event_version"] or 1), "occurred_at": _time(row["occurred_at"]),
        "thread_id": row["thread_id"], "ticket": row["ticket"], "run_id": opt("run_id"),
        "agent_name": opt("agent_name"), "actor_type": actor if actor in m.ACTOR_TYPES else "system",
        "actor_name": row["actor_name"] or actor, "correlation_id": row["correlation_id"] or row["event_id"],
        "causation_id": opt("causation_id"), "idempotency_key": None,
        "payload": _payload(row["event_type"], row["payload_json"]),
    }


def read_store(path: Path) -> GoStore:
    if not path.is_file():
        raise UsageError(f"--db {path}: no such file", hint="the Go metawsm's store is .metawsm/metawsm.db")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"{path}: cannot open: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        try:
            check_schema(conn, path)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{path}: not an SQLite database ({exc})") from exc
        store = GoStore()
        store.events = [_envelope(r) for r in conn.execute("SELECT * FROM forum_events ORDER BY sequence")]
        store.runs = int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        for r in conn.execute("SELECT DISTINCT ticket FROM run_tickets ORDER BY ticket"):
            store.tickets.setdefault(r["ticket"], {})
        if set(OPTIONAL["run_briefs"]) <= _columns(conn, "run_briefs"):
            for r in conn.execute("SELECT b.ticket, b.goal, b.done_criteria FROM run_briefs b JOIN runs r "
                                  "ON r.run_id = b.run_id ORDER BY r.created_at"):
                store.tickets[r["ticket"]] = {"goal": r["goal"] or "", "done_criteria": r["done_criteria"] or ""}
        if set(OPTIONAL["forum_thread_reads"]) <= _columns(conn, "forum_thread_reads"):
            store.reads = [(r["thread_id"], r["viewer_type"], r["viewer_id"], int(r["last_seen_event_sequence"]),
                            _time(r["updated_at"])) for r in conn.execute("SELECT * FROM forum_thread_reads")]
        return store
    finally:
        conn.close()
