"""Apply a batch of log events to the index tables (the one code path for catch-up and rebuild).

Batching changes nothing in the result: a rebuild in big chunks equals the index built one event at
a time (tests compare a dump of every table)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from metawsm.forum import models as m
from metawsm.forum.schema_sql import THREAD_COLS

_THREAD_SELECT = "SELECT " + ", ".join(THREAD_COLS) + " FROM threads WHERE thread_id = ?"
_THREAD_UPSERT = ("INSERT OR REPLACE INTO threads (" + ", ".join(THREAD_COLS) + ") VALUES ("
                  + ", ".join("?" * len(THREAD_COLS)) + ")")
_HUMAN_OR_OPERATOR = ("human", "operator")


def _key(t: dict[str, Any]) -> tuple[str, str, str, str]:
    return (t["ticket"], t["run_id"] or "", t["state"], t["priority"])


class _Batch:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.threads: dict[str, dict[str, Any] | None] = {}
        self.orig: dict[str, tuple[str, str, str, str] | None] = {}
        self.reads: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.events: list[tuple[Any, ...]] = []
        self.posts: list[tuple[Any, ...]] = []
        self.fts: list[tuple[str, str, str]] = []
        self.assignments: list[tuple[Any, ...]] = []
        self.transitions: list[tuple[Any, ...]] = []
        self.controls: list[tuple[str, str, str, str]] = []
        self.signals: list[tuple[Any, ...]] = []

    def thread(self, tid: str) -> dict[str, Any] | None:
        if tid not in self.threads:
            row = self.conn.execute(_THREAD_SELECT, (tid,)).fetchone()
            t = dict(zip(THREAD_COLS, row, strict=True)) if row else None
            self.threads[tid] = t
            self.orig[tid] = _key(t) if t else None
        return self.threads[tid]

    def flush(self) -> None:
        c = self.conn
        c.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", self.events)
        if self.posts:
            c.executemany("INSERT OR IGNORE INTO posts VALUES (?,?,?,?,?,?,?,?)", self.posts)
        if self.fts:
            c.executemany("INSERT INTO search (thread_id, kind, text) VALUES (?,?,?)", self.fts)
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
        changed = [t for t in self.threads.values() if t is not None]
        if changed:
            c.executemany(_THREAD_UPSERT, [tuple(t[k] for k in THREAD_COLS) for t in changed])
        delta: dict[tuple[str, str, str, str], int] = {}
        for tid, t in self.threads.items():
            before, after = self.orig.get(tid), _key(t) if t else None
            if before != after:
                if before:
                    delta[before] = delta.get(before, 0) - 1
                if after:
                    delta[after] = delta.get(after, 0) + 1
        rows = [(*k, n) for k, n in delta.items() if n]
        if rows:
            c.executemany("INSERT INTO stats VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE "
                          "SET thread_count = thread_count + excluded.thread_count", rows)
            c.execute("DELETE FROM stats WHERE thread_count <= 0")

    def seen(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        key = (e["thread_id"], p.get("viewer_type", ""), p.get("viewer_id", ""))
        if key not in self.reads:
            row = self.conn.execute(
                "SELECT last_seen_event_sequence, updated_at FROM reads WHERE thread_id = ? AND "
                "viewer_type = ? AND viewer_id = ?", key).fetchone()
            self.reads[key] = (row[0], row[1]) if row else (0, e["occurred_at"])
        old = self.reads[key][0]
        self.reads[key] = (max(old, int(p.get("last_seen_event_sequence") or 0)), e["occurred_at"])


def apply(conn: sqlite3.Connection, events: list[dict[str, Any]]) -> None:
    """Project `events` (in sequence order) into the tables; the caller owns the transaction."""
    b = _Batch(conn)
    dumps = orjson.dumps
    for e in events:
        seq, etype, tid, at = e["sequence"], e["event_type"], e["thread_id"], e["occurred_at"]
        p = e.get("payload") or {}
        actor, name = e["actor_type"], e.get("actor_name") or ""
        b.events.append((seq, e["event_id"], etype, e.get("event_version", 1), at, tid, e["ticket"],
                         e.get("run_id"), e.get("agent_name"), actor, name, e.get("correlation_id"),
                         e.get("causation_id"), e.get("idempotency_key"), dumps(p).decode()))
        if etype == m.SEEN:
            b.seen(e)
            continue
        if etype == m.DOCS_SYNC:
            continue
        t = b.thread(tid)
        if etype == m.OPENED:
            if t is not None:
                continue
            prio = p.get("priority") or "normal"
            t = dict.fromkeys(THREAD_COLS)
            t.update(thread_id=tid, ticket=e["ticket"], run_id=e.get("run_id"),
                     agent_name=e.get("agent_name"), title=p.get("title", ""), state="new", priority=prio,
                     prio_rank=m.PRIORITY_RANK.get(prio, 5), opened_by_type=actor, opened_by_name=name,
                     posts_count=0, last_human_or_operator_sequence=0, last_agent_sequence=0,
                     opened_at=at, is_control=1 if tid.startswith("fctrl-") else 0)
            b.threads[tid] = t
            b.fts.append((tid, "title", t["title"]))
            if t["is_control"] and e.get("run_id") and e.get("agent_name"):
                b.controls.append((e["run_id"], e["agent_name"], e["ticket"], tid))
            _post(b, t, e, p.get("body", ""))
        elif t is None:
            continue  # an event for a thread the log never opened (hand-edited log): ignored
        elif etype == m.POSTED:
            _post(b, t, e, p.get("body", ""))
        elif etype == m.CONTROL:
            body = dumps(p).decode()
            _post(b, t, e, body)
            b.signals.append((seq, tid, p.get("run_id") or e.get("run_id") or "",
                              p.get("agent_name") or e.get("agent_name") or "", int(p.get("attempt") or 1),
                              p.get("control_type", ""), body))
        elif etype == m.ASSIGNED:
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
        _touch(t, seq, at, actor)
    b.flush()


def _post(b: _Batch, t: dict[str, Any], e: dict[str, Any], body: str) -> None:
    name = e.get("actor_name") or ""
    b.posts.append((e["event_id"] + ".post", t["thread_id"], e["event_id"], e["sequence"], e["actor_type"],
                    name, body, e["occurred_at"]))
    b.fts.append((t["thread_id"], "post", body))
    t["posts_count"] += 1
    t["last_post_at"], t["last_post_by_type"], t["last_post_by_name"] = e["occurred_at"], e["actor_type"], name


def _touch(t: dict[str, Any], seq: int, at: str, actor: str) -> None:
    t["last_event_sequence"], t["updated_at"], t["last_actor_type"] = seq, at, actor
    if actor != "system":
        t["last_non_system_actor_type"] = actor
    if actor in _HUMAN_OR_OPERATOR:
        t["last_human_or_operator_sequence"] = seq
    elif actor == "agent":
        t["last_agent_sequence"] = seq
