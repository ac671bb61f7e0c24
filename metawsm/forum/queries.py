"""Read side: thread views, posts, events, search, queues, stats and control state from the index.
SQL is assembled from constant fragments only; every value is a bound parameter."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from metawsm.forum import control
from metawsm.forum.models import ControlState, Event, Post, StatRow, Thread
from metawsm.forum.schema_sql import SEARCH_TEXT_BODY, SEARCH_TEXT_TITLE

_VIEW_COLS = (
    "t.thread_id, t.ticket, t.run_id, t.agent_name, t.title, t.state, t.priority, t.assignee_type, "
    "t.assignee_name, t.opened_by_type, t.opened_by_name, t.posts_count, t.last_post_at, "
    "t.last_post_by_type, t.last_post_by_name, t.last_event_sequence, t.last_non_system_actor_type, "
    "{unseen} AS is_unseen, "
    "(t.state IN ('new', 'waiting_human', 'waiting_operator') AND t.last_agent_sequence > "
    "t.last_human_or_operator_sequence AND t.last_non_system_actor_type = 'agent') AS is_unanswered, "
    "t.opened_at, t.updated_at, t.closed_at"
)
_UNANSWERED = ("t.state IN ('new', 'waiting_human', 'waiting_operator') AND t.last_agent_sequence > "
               "t.last_human_or_operator_sequence AND t.last_non_system_actor_type = 'agent'")
_ORDER = " ORDER BY t.prio_rank, t.last_event_sequence DESC, t.updated_at DESC LIMIT ?"
_EVENT_COLS = ("sequence, event_id, event_type, event_version, occurred_at, thread_id, ticket, run_id, "
               "agent_name, actor_type, actor_name, correlation_id, causation_id, idempotency_key, payload_json")


def _thread(row: tuple[Any, ...]) -> Thread:
    vals = list(row)
    vals[17], vals[18] = bool(vals[17]), bool(vals[18])
    return Thread(*vals)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(*row[:14], payload=orjson.loads(row[14]))  # type: ignore[misc]  # row: 14 envelope columns


class Filters:
    """Optional thread filters, as (SQL fragment, parameter) pairs."""

    def __init__(self, *, ticket: str | None = None, run_id: str | None = None, state: str | None = None,
                 priority: str | None = None, assignee: str | None = None,
                 include_control: bool = True, cursor: int = 0) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []
        for frag, value in (("t.ticket = ?", ticket), ("t.run_id = ?", run_id), ("t.state = ?", state),
                            ("t.priority = ?", priority)):
            if value:
                self.parts.append(frag)
                self.params.append(value)
        if assignee:
            kind, _, name = assignee.rpartition(":")
            self.parts.append("t.assignee_name = ?")
            self.params.append(name)
            if kind:
                self.parts.append("t.assignee_type = ?")
                self.params.append(kind)
        if not include_control:
            self.parts.append("t.is_control = 0")
        if cursor > 0:  # keyset paging, as the Go server: threads last active before the cursor
            self.parts.append("t.last_event_sequence < ?")
            self.params.append(cursor)

    def where(self, *extra: str) -> str:
        parts = self.parts + list(extra)
        return (" WHERE " + " AND ".join(parts)) if parts else ""


def _viewer_sql(viewer: tuple[str, str] | None) -> tuple[str, str, list[Any]]:
    """(join, unseen expression, params) for an optional viewer."""
    if viewer is None:
        return "", "0", []
    join = (" LEFT JOIN marks.reads r ON r.thread_id = t.thread_id AND r.viewer_type = ? AND r.viewer_id = ?")
    return join, "(t.last_event_sequence > COALESCE(r.last_seen_event_sequence, 0))", [viewer[0], viewer[1]]


def list_threads(conn: sqlite3.Connection, f: Filters, *, limit: int = 100,
                 viewer: tuple[str, str] | None = None, extra: tuple[str, ...] = ()) -> list[Thread]:
    join, unseen, vparams = _viewer_sql(viewer)
    sql = "SELECT " + _VIEW_COLS.format(unseen=unseen) + " FROM threads t" + join + f.where(*extra) + _ORDER
    return [_thread(r) for r in conn.execute(sql, [*vparams, *f.params, limit])]


def queue(conn: sqlite3.Connection, kind: str, f: Filters, *, limit: int = 100,
          viewer: tuple[str, str] | None = None) -> list[Thread]:
    if kind == "unseen":
        assert viewer is not None
        return list_threads(conn, f, limit=limit, viewer=viewer, extra=(
            "t.last_event_sequence > COALESCE(r.last_seen_event_sequence, 0)",))
    return list_threads(conn, f, limit=limit, viewer=viewer, extra=(_UNANSWERED,))


def fts_query(text: str) -> str:
    """Every word of `text` as a quoted FTS5 phrase (prefix-matched), ANDed: no query syntax leaks."""
    words = [w.replace('"', '""') for w in text.split()]
    return " AND ".join(f'"{w}"*' for w in words if w)


def search(conn: sqlite3.Connection, text: str, f: Filters, *, limit: int = 50,
           viewer: tuple[str, str] | None = None) -> list[Thread]:
    """Threads whose title or a post matches: every word as a word prefix (FTS5), or the whole query
    as a case-insensitive substring (as the Go server's LIKE '%q%': `atabase` finds `database`).
    A title hit scores 2, a post hit 1; higher scores first."""
    # the forum refuses NUL in what it stores, so a NUL in a query matches nothing; FTS5 would stop reading the
    # query there ("unterminated string", found by schemathesis with a random seed: `?query=%00%C2%80`)
    text = text.replace("\x00", " ")
    q = fts_query(text)
    if not q:
        return []
    join, unseen, vparams = _viewer_sql(viewer)
    needle = text.strip().lower()
    # substrings: a scan of the titles and bodies (`search_text`), which are only decoded from the events'
    # JSON where its text holds the needle too (always, unless the needle has a character JSON escapes)
    source = _SUBSTRING_PREFILTERED if needle.isprintable() and not ('"' in needle or "\\" in needle) \
        else _SUBSTRING
    # both, always: a word prefix folds accents (`premiere` finds `Première`) where a substring does not
    source = _WORDS + " UNION ALL " + source
    sql = ("WITH hits AS (SELECT thread_id, MAX(kind = 'title') * 2 + MAX(kind = 'post') AS score FROM ("
           + source + ") GROUP BY thread_id) SELECT "
           + _VIEW_COLS.format(unseen=unseen) + " FROM hits h JOIN threads t ON t.thread_id = h.thread_id"
           + join + f.where() + " ORDER BY h.score DESC, t.prio_rank, t.last_event_sequence DESC LIMIT ?")
    return [_thread(r) for r in conn.execute(sql, [q, needle, *vparams, *f.params, limit])]


# The full-text index gives rowids only: a post's event sequence, or minus the thread's opening one.
_WORDS = ("SELECT e.thread_id, CASE WHEN s.rowid < 0 THEN 'title' ELSE 'post' END AS kind FROM search s "
          "JOIN events e ON e.sequence = abs(s.rowid) WHERE search MATCH ?1")
_SUBSTRING = "SELECT thread_id, kind FROM search_text WHERE instr(lower(text), ?2) > 0"
_SUBSTRING_PREFILTERED = (
    "SELECT thread_id, 'title' AS kind FROM events WHERE is_post = 1 AND event_type = 'forum.thread.opened' "
    "AND instr(lower(payload_json), ?2) > 0 AND instr(lower(" + SEARCH_TEXT_TITLE + "), ?2) > 0 "
    "UNION ALL SELECT thread_id, 'post' FROM events WHERE is_post = 1 AND instr(lower(payload_json), ?2) > 0 "
    "AND instr(lower(" + SEARCH_TEXT_BODY + "), ?2) > 0")


def get_thread(conn: sqlite3.Connection, thread_id: str) -> Thread | None:
    sql = "SELECT " + _VIEW_COLS.format(unseen="0") + " FROM threads t WHERE t.thread_id = ?"
    row = conn.execute(sql, (thread_id,)).fetchone()
    return _thread(row) if row else None


def raw_thread(conn: sqlite3.Connection, thread_id: str) -> dict[str, Any] | None:
    cur = conn.execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


def posts(conn: sqlite3.Connection, thread_id: str, limit: int = 1000) -> list[Post]:
    return [Post(*r) for r in conn.execute(
        "SELECT post_id, thread_id, event_id, author_type, author_name, body, created_at FROM posts "
        "WHERE thread_id = ? ORDER BY sequence LIMIT ?", (thread_id, limit))]


def thread_events(conn: sqlite3.Connection, thread_id: str, limit: int = 500) -> list[Event]:
    return [_event(r) for r in conn.execute(
        "SELECT " + _EVENT_COLS + " FROM events WHERE thread_id = ? AND event_type != 'forum.thread.seen' "
        "ORDER BY sequence LIMIT ?",
        (thread_id, limit))]


def events(conn: sqlite3.Connection, cursor: int, limit: int, ticket: str | None,
           run_id: str | None) -> list[Event]:
    parts, params = ["sequence > ?"], [cursor]  # type: list[str], list[Any]
    if ticket:
        parts.append("ticket = ?")
        params.append(ticket)
    if run_id:
        parts.append("run_id = ?")
        params.append(run_id)
    sql = "SELECT " + _EVENT_COLS + " FROM events WHERE " + " AND ".join(parts) + " ORDER BY sequence LIMIT ?"
    return [_event(r) for r in conn.execute(sql, [*params, limit])]


def event_by_key(conn: sqlite3.Connection, key: str) -> list[Event]:
    """Events written by the call that carried idempotency key `key` (in sequence order)."""
    return [_event(r) for r in conn.execute(
        "SELECT " + _EVENT_COLS + " FROM events WHERE idempotency_key = ? ORDER BY sequence", (key,))]


def stats(conn: sqlite3.Connection, ticket: str | None, run_id: str | None) -> list[StatRow]:
    parts, params = [], []
    if ticket:
        parts.append("ticket = ?")
        params.append(ticket)
    if run_id:
        parts.append("run_id = ?")
        params.append(run_id)
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    rows = conn.execute(
        "SELECT ticket, run_id, state, priority, thread_count, (SELECT MAX(t.updated_at) FROM threads t "
        "WHERE t.ticket = s.ticket AND t.state = s.state AND t.priority = s.priority AND "
        "coalesce(t.run_id, '') = s.run_id) FROM stats s" + where + " ORDER BY ticket, run_id, state, priority",
        params)
    return [StatRow(t, r or None, s, p, n, u or "") for t, r, s, p, n, u in rows]


def control_state(conn: sqlite3.Connection, run_id: str, agent_name: str, attempt: int) -> ControlState:
    rows = conn.execute(
        "SELECT sequence, control_type, payload_json, thread_id FROM signals WHERE run_id = ? AND "
        "agent_name = ? AND attempt = ? ORDER BY sequence", (run_id, agent_name, attempt))
    return control.reduce(run_id, agent_name, attempt, rows)


def latest_attempt(conn: sqlite3.Connection, run_id: str, agent_name: str) -> int | None:
    row = conn.execute("SELECT attempt FROM signals WHERE run_id = ? AND agent_name = ? "
                       "ORDER BY sequence DESC LIMIT 1", (run_id, agent_name)).fetchone()
    return int(row[0]) if row else None


def seen_mark(conn: sqlite3.Connection, thread_id: str, viewer_type: str, viewer_id: str
              ) -> tuple[int, str] | None:
    row = conn.execute("SELECT last_seen_event_sequence, updated_at FROM marks.reads WHERE thread_id = ? AND "
                       "viewer_type = ? AND viewer_id = ?", (thread_id, viewer_type, viewer_id)).fetchone()
    return (row[0], row[1]) if row else None


# -- diagnostics (`/forum/debug`) -----------------------------------------------------------------
def event_type_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many indexed events of each type."""
    return {t: int(n) for t, n in conn.execute("SELECT event_type, COUNT(*) FROM events GROUP BY event_type")}


def control_threads(conn: sqlite3.Connection, ticket: str | None, run_id: str | None,
                    limit: int) -> list[dict[str, Any]]:
    """The (run, agent) → control thread mapping, with the thread's opened/updated times."""
    parts, params = [], []  # type: list[str], list[Any]
    if ticket:
        parts.append("c.ticket = ?")
        params.append(ticket)
    if run_id:
        parts.append("c.run_id = ?")
        params.append(run_id)
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    rows = conn.execute(
        "SELECT c.run_id, c.agent_name, c.ticket, c.thread_id, t.opened_at, t.updated_at FROM control_threads c "
        "LEFT JOIN threads t ON t.thread_id = c.thread_id" + where + " ORDER BY t.updated_at DESC LIMIT ?",
        [*params, limit])
    keys = ("run_id", "agent_name", "ticket", "thread_id", "created_at", "updated_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def max_sequence(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(MAX(sequence), 0) FROM events").fetchone()[0])
