"""Apply a batch of log events to the index tables (the one code path for catch-up and rebuild).

Batching changes nothing in the result: the index caught up in big chunks equals the index built one
event at a time (tests compare a dump of every table). A rebuild (`bulk.py`) loads the events itself
and derives most tables with SQL; it passes the few events whose rules are stateful (assignments,
state and priority changes, control signals, legacy read marks) through `apply` with `search=False`.
The full-text rows of a post are keyed by its event's sequence (a thread's title by minus the sequence
of its opening event): see `schema_sql.SEARCH_DDL`."""

from __future__ import annotations

import sqlite3
from operator import itemgetter
from typing import Any

import orjson

from metawsm.forum import models as m
from metawsm.forum.bounds import MAX_INT
from metawsm.forum.schema_sql import THREAD_COLS

_THREAD_SELECT = "SELECT " + ", ".join(THREAD_COLS) + " FROM threads WHERE thread_id = ?"
_THREAD_UPSERT = ("INSERT OR REPLACE INTO threads (" + ", ".join(THREAD_COLS) + ") VALUES ("
                  + ", ".join("?" * len(THREAD_COLS)) + ")")
# Columns that change without changing the thread's stats key (ticket, run, state, priority).
_ACTIVITY_COLS = tuple(c for c in THREAD_COLS if c not in ("thread_id", "ticket", "run_id", "state", "priority"))
_THREAD_UPDATE = ("UPDATE threads SET " + ", ".join(f"{c} = ?" for c in _ACTIVITY_COLS)
                  + " WHERE thread_id = ?")
_EVENT_INSERT = "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_HUMAN_OR_OPERATOR = ("human", "operator")
_NEW_THREAD: dict[str, Any] = dict.fromkeys(THREAD_COLS)


def _key(t: dict[str, Any]) -> tuple[str, str, str, str]:
    return (t["ticket"], t["run_id"] or "", t["state"], t["priority"])


class _Batch:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.threads: dict[str, dict[str, Any] | None] = {}
        self.orig: dict[str, tuple[str, str, str, str] | None] = {}
        self.reads: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.events: list[tuple[Any, ...]] = []
        self.fts: list[tuple[int, str, str, Any]] = []
        self.assignments: list[tuple[Any, ...]] = []
        self.transitions: list[tuple[Any, ...]] = []
        self.controls: list[tuple[str, str, str, str]] = []
        self.signals: list[tuple[Any, ...]] = []

    def thread(self, tid: str) -> dict[str, Any] | None:
        """The current row of thread `tid` as a mutable dict (None: not opened yet)."""
        try:
            return self.threads[tid]
        except KeyError:
            pass
        row = self.conn.execute(_THREAD_SELECT, (tid,)).fetchone()
        t = dict(zip(THREAD_COLS, row, strict=True)) if row else None
        self.threads[tid] = t
        self.orig[tid] = _key(t) if t else None
        return t

    def flush(self) -> None:
        c = self.conn
        c.executemany(_EVENT_INSERT, self.events)
        if self.fts:
            # in ascending rowid order (a title's rowid is negative): FTS5 writes its pending terms out as
            # a new segment whenever a rowid goes back
            self.fts.sort(key=itemgetter(0))
            c.executemany("INSERT INTO search (rowid, thread_id, kind, text) VALUES (?,?,?,?)", self.fts)
        if self.assignments:
            c.executemany("INSERT OR IGNORE INTO assignments VALUES (?,?,?,?,?,?,?,?,?,?,?)", self.assignments)
        if self.transitions:
            c.executemany("INSERT OR IGNORE INTO transitions VALUES (?,?,?,?,?,?,?,?)", self.transitions)
        if self.controls:
            c.executemany("INSERT OR IGNORE INTO control_threads VALUES (?,?,?,?)", self.controls)
        if self.signals:
            c.executemany("INSERT OR IGNORE INTO signals VALUES (?,?,?,?,?,?,?)", self.signals)
        if self.reads:
            c.executemany("INSERT OR REPLACE INTO reads VALUES (?,?,?,?,?)",
                          [(*k, seq, at) for k, (seq, at) in self.reads.items()])
        changed = {tid: t for tid, t in self.threads.items() if t is not None}
        delta: dict[tuple[str, str, str, str], int] = {}
        orig = self.orig
        upserts, updates = [], []
        for tid, t in changed.items():
            before, after = orig[tid], _key(t)
            if before == after:  # only activity columns changed: leave the key indexes untouched
                updates.append((*[t[k] for k in _ACTIVITY_COLS], tid))
                continue
            upserts.append(tuple(t.values()))
            if before:
                delta[before] = delta.get(before, 0) - 1
            delta[after] = delta.get(after, 0) + 1
        if upserts:
            c.executemany(_THREAD_UPSERT, upserts)
        if updates:
            c.executemany(_THREAD_UPDATE, updates)
        rows = [(*k, n) for k, n in delta.items() if n]
        if rows:
            c.executemany("INSERT INTO stats VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE "
                          "SET thread_count = thread_count + excluded.thread_count", rows)
            c.execute("DELETE FROM stats WHERE thread_count <= 0")

    def seen(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        key = (e["thread_id"], _text(p.get("viewer_type")), _text(p.get("viewer_id")))
        if key not in self.reads:
            row = self.conn.execute(
                "SELECT last_seen_event_sequence, updated_at FROM reads WHERE thread_id = ? AND "
                "viewer_type = ? AND viewer_id = ?", key).fetchone()
            self.reads[key] = (row[0], row[1]) if row else (0, e["occurred_at"])
        old = self.reads[key][0]
        self.reads[key] = (max(old, _sequence(p.get("last_seen_event_sequence"))), e["occurred_at"])


def _text(value: Any) -> Any:
    """A payload value for a NOT NULL text column: a JSON null (a hand-edited or foreign line) is ''."""
    return "" if value is None else value


def _sequence(value: Any) -> int:
    """A read mark's sequence: a number (or numeric text, as before) within SQLite's integer, else 0 (a mark
    that moves nothing), so no line of the log can stop the index from being built."""
    try:
        n = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
    return n if 0 <= n <= MAX_INT else 0


def apply(conn: sqlite3.Connection, events: list[dict[str, Any]], *, search: bool = True) -> None:
    """Project `events` (in sequence order) into the tables; the caller owns the transaction.
    `search=False` leaves the full-text table alone (a rebuild fills it in bulk)."""
    b = _Batch(conn)
    dumps = orjson.dumps
    ev_append = b.events.append
    fts = b.fts if search else None
    threads, get_thread = b.threads, b.thread
    posted, opened, seen, docs_sync = m.POSTED, m.OPENED, m.SEEN, m.DOCS_SYNC
    for e in events:
        seq, etype, tid, at, actor = (e["sequence"], e["event_type"], e["thread_id"], e["occurred_at"],
                                      e["actor_type"])
        p = e.get("payload") or {}
        name = e.get("actor_name") or ""
        is_post = 0
        if etype == posted:  # the common case, inlined
            t = threads[tid] if tid in threads else get_thread(tid)
            if t is not None:  # else: a post to a thread the log never opened (hand-edited): ignored
                is_post = 1
                if fts is not None:
                    fts.append((seq, tid, "post", p.get("body", "")))
                t["posts_count"] += 1
                t["last_post_at"], t["last_post_by_type"], t["last_post_by_name"] = at, actor, name
                t["last_event_sequence"], t["updated_at"], t["last_actor_type"] = seq, at, actor
                if actor != "system":
                    t["last_non_system_actor_type"] = actor
                if actor in _HUMAN_OR_OPERATOR:
                    t["last_human_or_operator_sequence"] = seq
                elif actor == "agent":
                    t["last_agent_sequence"] = seq
        elif etype == seen:
            b.seen(e)
        elif etype == docs_sync:
            pass
        elif etype == opened:
            if get_thread(tid) is None:  # opened twice (hand-edited log): the first one counts
                t = _open(b, e, p, name, fts)
                is_post = 1
                _touch(t, seq, at, actor)
        else:
            t = threads[tid] if tid in threads else get_thread(tid)
            if t is not None:
                is_post = _other(b, t, e, etype, p, name, fts)
                # an agent's completion or validation needs no answer: only its questions count as
                # unanswered agent activity
                asks = etype != m.CONTROL or p.get("control_type") == "guidance_request"
                _touch(t, seq, at, actor, asks=asks)
        try:  # every envelope the forum writes has all fields; a hand-edited one may not
            ev_append((seq, e["event_id"], etype, e["event_version"], at, tid, e["ticket"], e["run_id"],
                       e["agent_name"], actor, name, e["correlation_id"], e["causation_id"],
                       e["idempotency_key"], dumps(p).decode(), is_post))
        except KeyError:
            ev_append((seq, e["event_id"], etype, e.get("event_version", 1), at, tid, e["ticket"],
                       e.get("run_id"), e.get("agent_name"), actor, name, e.get("correlation_id"),
                       e.get("causation_id"), e.get("idempotency_key"), dumps(p).decode(), is_post))
    b.flush()


def _open(b: _Batch, e: dict[str, Any], p: dict[str, Any], name: str,
          fts: list[tuple[int, str, str, Any]] | None) -> dict[str, Any]:
    tid, at, actor = e["thread_id"], e["occurred_at"], e["actor_type"]
    prio = p.get("priority") or "normal"
    t = _NEW_THREAD.copy()
    t.update(thread_id=tid, ticket=e["ticket"], run_id=e.get("run_id"),
             agent_name=e.get("agent_name"), title=_text(p.get("title")), state="new", priority=prio,
             prio_rank=m.PRIORITY_RANK.get(prio, 5), opened_by_type=actor, opened_by_name=name,
             posts_count=0, last_human_or_operator_sequence=0, last_agent_sequence=0, opened_at=at,
             is_control=1 if tid.startswith("fctrl-") else 0)
    b.threads[tid] = t
    if fts is not None:
        fts.append((-e["sequence"], tid, "title", t["title"]))
    if t["is_control"] and e.get("run_id") and e.get("agent_name"):
        b.controls.append((e["run_id"], e["agent_name"], e["ticket"], tid))
    _post(t, e["sequence"], at, actor, name, p.get("body", ""), fts)
    return t


def _other(b: _Batch, t: dict[str, Any], e: dict[str, Any], etype: str, p: dict[str, Any], name: str,
           fts: list[tuple[int, str, str, Any]] | None) -> int:
    """The rarer thread events (an unknown type only touches the thread); 1 when it is a post."""
    seq, tid, at, actor = e["sequence"], e["thread_id"], e["occurred_at"], e["actor_type"]
    if etype == m.CONTROL:
        body = orjson.dumps(p).decode()  # the same text as the event's payload_json
        _post(t, seq, at, actor, name, body, fts)
        b.signals.append((seq, tid, p.get("run_id") or e.get("run_id") or "",
                          p.get("agent_name") or e.get("agent_name") or "", int(p.get("attempt") or 1),
                          _text(p.get("control_type")), body))
        return 1
    if etype == m.ASSIGNED:
        t["assignee_type"], t["assignee_name"] = p.get("to_assignee_type"), p.get("to_assignee_name")
        b.assignments.append((seq, e["event_id"], tid, p.get("from_assignee_type"),
                              p.get("from_assignee_name"), p.get("to_assignee_type"),
                              p.get("to_assignee_name"), p.get("note", ""), actor, name, at))
    elif etype in (m.STATE_CHANGED, m.CLOSED):
        to = p.get("to_state") or ("closed" if etype == m.CLOSED else t["state"])
        b.transitions.append((seq, e["event_id"], tid, p.get("from_state", t["state"]), to, actor, name, at))
        t["state"] = to
        if to == "closed":
            t["closed_at"] = at
    elif etype == m.PRIORITY_CHANGED:
        prio = p.get("to_priority") or t["priority"]
        t["priority"], t["prio_rank"] = prio, m.PRIORITY_RANK.get(prio, 5)
    return 0


def _post(t: dict[str, Any], seq: int, at: str, actor: str, name: str, body: Any,
          fts: list[tuple[int, str, str, Any]] | None) -> None:
    if fts is not None:
        fts.append((seq, t["thread_id"], "post", body))
    t["posts_count"] += 1
    t["last_post_at"], t["last_post_by_type"], t["last_post_by_name"] = at, actor, name


def _touch(t: dict[str, Any], seq: int, at: str, actor: str, *, asks: bool = True) -> None:
    t["last_event_sequence"], t["updated_at"], t["last_actor_type"] = seq, at, actor
    if actor != "system":
        t["last_non_system_actor_type"] = actor
    if actor in _HUMAN_OR_OPERATOR:
        t["last_human_or_operator_sequence"] = seq
    elif actor == "agent" and asks:
        t["last_agent_sequence"] = seq
