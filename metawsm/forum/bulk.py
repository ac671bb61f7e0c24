"""Rebuilding the index in bulk: the same tables as the projector's event-by-event path
(`projector.apply`), derived mostly by SQL over the loaded events (bulk_sql.py) instead of by Python
per event. The log is streamed in chunks of about 1 MiB; per chunk:

1. each event is checked — a cheap test that implies `log.check_event`'s verdict, the full check where
   the cheap one cannot tell — and marked as a post or not, and the chunk goes into `events` with one
   prepared `executemany`;
2. the threads it opens get their rows, and so do its control threads and control signals, from
   INSERT … SELECT statements over the chunk's rows;
3. the few events whose rules carry state from one event to the next — assignments, state and priority
   changes, legacy read marks — go through `projector.apply` in log order (one owner of those rules);
4. one aggregate over the chunk's rows merges the activity of every thread it touched (posts, last
   post, last event, last human and agent sequences) into the thread's row.

At the end `stats` is counted from the threads, and the caller creates the secondary indexes before
`finish` fills the full-text table. A rebuild equals the index built one event at a time:
`tests/forum/test_rebuild_bulk.py` compares a dump of every table over awkward and random logs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson

from metawsm.forum import bulk_sql as q
from metawsm.forum import models as m
from metawsm.forum import projector
from metawsm.forum.bounds import MAX_INT
from metawsm.forum.log import ENUM_KEYS, ENUMS, EventLog, Problem, _loads_or_none, check_event

OPENED_CAP = 200_000  # thread ids kept in memory (~20 MB); beyond, the threads table answers
CHUNK = 1 << 20  # bytes of log per chunk

_ROW = itemgetter("sequence", "event_id", "event_type", "event_version", "occurred_at", "thread_id", "ticket",
                  "run_id", "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id",
                  "idempotency_key", "payload")
_ACTORS = frozenset(m.ACTOR_TYPES)
_NO_TOUCH = (m.POSTED, m.OPENED, m.CONTROL, m.SEEN, m.DOCS_SYNC)  # the other types touch an open thread
_STATEFUL = frozenset((m.ASSIGNED, m.STATE_CHANGED, m.CLOSED, m.PRIORITY_CHANGED))


class _Chunk:
    """What one chunk's events need besides their rows."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.stateful: list[dict[str, Any]] = []  # for projector.apply
        self.touched: list[tuple[int]] = []  # non-post events touching an open thread
        self.signals = False  # a control signal on an open thread
        self.controls = False  # a control thread opened


class _Opened:
    """Which threads are open so far: a set of ids, cleared when it passes OPENED_CAP (each chunk's new
    threads are in the threads table before the next chunk), after which a miss asks the table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.ids: set[str] = set()
        self.conn = conn
        self.forgot = False

    def __contains__(self, tid: str) -> bool:
        if tid in self.ids:
            return True
        if self.forgot and self.conn.execute("SELECT 1 FROM threads WHERE thread_id = ?", (tid,)).fetchone():
            self.ids.add(tid)
            return True
        return False

    def end_chunk(self) -> None:
        if len(self.ids) > OPENED_CAP:
            self.ids.clear()
            self.forgot = True


def load(conn: sqlite3.Connection, log_: EventLog, report: Callable[[list[Problem]], None]
         ) -> tuple[int, int, int]:
    """Load every event (the caller owns the transaction): returns (events indexed, end offset, end
    line). Skipped lines are passed to `report` after each chunk."""
    problems: list[Problem] = []
    conn.execute("CREATE TEMP TABLE touched (sequence INTEGER PRIMARY KEY)")
    opened = _Opened(conn)
    count = line = end = prev = 0
    for lines, start, chunk_end in log_.chunks(0, limit_bytes=CHUNK):
        end = chunk_end
        try:
            events = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            events = [_loads_or_none(raw) for raw in lines]
        c = _Chunk()
        prev = _rows(events, prev, opened, c, lines, start, line, log_, problems)
        line += len(lines)
        report(problems)
        if not c.rows:
            continue
        conn.executemany(q.INSERT_EVENT, c.rows)
        span = (c.rows[0][0], c.rows[-1][0])
        conn.execute(q.INSERT_THREADS, span)
        if c.controls:
            conn.execute(q.INSERT_CONTROLS, span)
        if c.signals:
            conn.execute(q.INSERT_SIGNALS, span)
        if c.stateful:
            projector.apply(conn, c.stateful, search=False)
        if c.touched:
            conn.executemany("INSERT INTO temp.touched VALUES (?)", c.touched)
        conn.execute(q.ACTIVITY_ALL if c.touched else q.ACTIVITY_POSTS, span)
        opened.end_chunk()
        count += len(c.rows)
    conn.execute("DROP TABLE temp.touched")
    return count, end, line


def _rows(events: list[Any], prev: int, opened: _Opened, c: _Chunk, lines: list[bytes], start: int, line: int,
          log_: EventLog, problems: list[Problem]) -> int:
    """Fill `c` from one chunk's events (skipped lines are reported in `problems`); returns the last
    sequence indexed."""
    stateful, touched = c.stateful, c.touched
    append, dumps, fromiso, join, ids, forgot = (c.rows.append, orjson.dumps, datetime.fromisoformat, "".join,
                                                 opened.ids, opened.forgot)
    actors, enums, max_int = _ACTORS, ENUM_KEYS, MAX_INT
    posted, opened_t, control, no_touch, stateful_t = m.POSTED, m.OPENED, m.CONTROL, _NO_TOUCH, _STATEFUL
    for i, e in enumerate(events):
        try:  # the cheap check: every field present with its usual type, a payload of strings only
            seq, eid, et, ver, at, tid, tk, run, ag, actor, name, corr, caus, idem, p = _ROW(e)
            join(p.values())  # TypeError unless every value is a string
            if not (type(seq) is int and prev < seq <= max_int and type(eid) is str and type(et) is str
                    and type(tid) is str and type(tk) is str and actor in actors
                    and type(ver) is int and 0 <= ver <= max_int and type(p) is dict
                    and (run is None or type(run) is str) and (ag is None or type(ag) is str)
                    and (name is None or type(name) is str) and (corr is None or type(corr) is str)
                    and (caus is None or type(caus) is str) and (idem is None or type(idem) is str)
                    and fromiso(at.replace("Z", "+00:00")) and (enums.isdisjoint(p) or _enums_ok(p))):
                raise ValueError
        except (KeyError, TypeError, ValueError, AttributeError):
            why = check_event(e, prev)  # the exact verdict, and the defaults of a hand-edited envelope
            if why is not None:
                log_.skip(lines, i, start, line, why, problems)
                continue
            seq, eid, et, at, tid, tk, actor, p = (e["sequence"], e["event_id"], e["event_type"],
                                                   e["occurred_at"], e["thread_id"], e["ticket"],
                                                   e["actor_type"], e["payload"])
            ver, run, ag, name = e.get("event_version", 1), e.get("run_id"), e.get("agent_name"), e.get("actor_name")
            corr, caus, idem = e.get("correlation_id"), e.get("causation_id"), e.get("idempotency_key")
        prev = seq
        if et == posted:
            is_post = 1 if tid in ids or (forgot and tid in opened) else 0
        elif et == opened_t:
            if tid in ids or (forgot and tid in opened):
                is_post = 0
            else:
                ids.add(tid)
                is_post = 1
                if tid.startswith("fctrl-"):
                    c.controls = True
        else:
            is_post = 0
            if et == control:
                if tid in ids or (forgot and tid in opened):
                    is_post, c.signals = 1, True
            elif et == m.SEEN:
                stateful.append(e)
            elif et not in no_touch and (tid in ids or (forgot and tid in opened)):
                touched.append((seq,))
                if et in stateful_t:
                    stateful.append(e)
        append((seq, eid, et, ver, at, tid, tk, run, ag, actor, name or "", corr, caus, idem, dumps(p).decode(),
                is_post))
    return prev


def _enums_ok(p: dict[str, str]) -> bool:
    """The payload's priorities and states (strings) are known values or empty."""
    return all(p[k] in ENUMS[k] or p[k] == "" for k in ENUM_KEYS.intersection(p))


def finish(conn: sqlite3.Connection) -> None:
    """Count `stats` and fill the full-text table, once every event is loaded (the caller owns the
    transaction and has created the secondary indexes)."""
    conn.execute("DELETE FROM stats")  # projector.apply kept it for its threads only
    conn.execute(q.STATS)
    # no merging of the full-text segments while they are written (crisis merges still bound their
    # number per level): a third less work at 1,000,000 events; later appends merge as usual
    conn.execute("INSERT INTO search (search, rank) VALUES ('automerge', 0)")
    for sql in q.SEARCH:
        conn.execute(sql)
    conn.execute("INSERT INTO search (search, rank) VALUES ('automerge', 4)")
