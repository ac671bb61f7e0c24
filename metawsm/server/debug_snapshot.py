"""The forum debug snapshot (`GET /api/v1/forum/debug`, `metawsm forum debug`): the Go metawsm's
`ForumStreamDebugSnapshot` shape, filled with this daemon's real equivalents (docs/api.md, "Forum
debug"). No web framework is imported here (the CLI uses it too):

- the Go "bus" (Redis streams fed by an outbox) is here the log + index + stream: `running` is the
  log follower, `healthy` is "the worker is not degraded and the index opens", `stream_name` is the
  log file, `consumer_group` the index file, `consumer_name` the stream hub; each event type is a
  "topic" whose `stream_length` is its number of indexed events;
- the Go "outbox" (messages not yet published) is here the index lag: `pending_count` is the number
  of events in the log the index has not read yet (0 once any read caught it up), its age the time
  since the index file was last written; there is no processing or failed state, and no outbox
  messages (`outbox_messages` is always []);
- `events`, `threads` and `control_threads` are the forum's own, filtered by ticket and run."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from metawsm.forum import queries
from metawsm.forum.ids import now as stamp

MAX_LIMIT = 500  # as the Go server


def _indexed_head(path: Any) -> tuple[int | None, str | None]:
    """The highest sequence the index holds, read without catching it up (read-only)."""
    if not path.exists():
        return 0, None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return queries.max_sequence(conn), None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return None, str(exc)


def _outbox(pending: int, index_path: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"pending_count": pending, "processing_count": 0, "failed_count": 0,
                           "oldest_pending_age_seconds": 0}
    if pending:
        with contextlib.suppress(OSError):
            mtime = index_path.stat().st_mtime
            out["oldest_pending_at"] = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            out["oldest_pending_age_seconds"] = max(int(time.time() - mtime), 0)
    return out


def index_outbox(forum: Any, head: int | None = None) -> tuple[dict[str, Any], str | None]:
    """(the Go "outbox" stats — the index lag behind the log head — and the index error or None).
    Without `head` (no follower), the head is what the index holds once caught up."""
    indexed, error = _indexed_head(forum.index.path)
    if indexed is None:
        return _outbox(0, forum.index.path), error
    if head is None:
        head = forum.read(queries.max_sequence)
    return _outbox(max(head - indexed, 0), forum.index.path), error


def snapshot(forum: Any, *, head: int | None, running: bool, worker_error: str | None, ticket: str | None,
             run_id: str | None, limit: int) -> dict[str, Any]:
    """The ForumStreamDebugSnapshot of `forum` (see the module doc)."""
    limit = min(max(limit, 1), MAX_LIMIT)
    outbox, index_error = index_outbox(forum, head)
    newest = head if head is not None else forum.read(queries.max_sequence)
    recent, _ = forum.events(max(newest - 5 * limit, 0), 5 * limit, ticket=ticket, run_id=run_id)
    counts = forum.read(queries.event_type_counts)
    controls = forum.read(lambda c: queries.control_threads(c, ticket, run_id, limit))
    log_path, exists = str(forum.log.path), forum.log.path.exists()
    health_error = index_error or worker_error
    topics = [{"topic": t, "stream": log_path, "handler_registered": True, "subscribed": True,
               "stream_exists": exists, "stream_length": n, "consumer_group_present": forum.index.path.exists(),
               "consumer_group_pending": 0, "consumer_group_lag": 0} for t, n in sorted(counts.items())]
    bus: dict[str, Any] = {
        "running": running, "healthy": health_error is None, "stream_name": log_path,
        "consumer_group": str(forum.index.path), "consumer_name": "stream-hub",
        "handler_topics": sorted(counts), "subscription_topics": sorted(counts), "topics": topics,
    }
    if health_error:
        bus["health_error"] = health_error
    snap: dict[str, Any] = {"generated_at": stamp()}
    if ticket:
        snap["ticket"] = ticket
    if run_id:
        snap["run_id"] = run_id
    snap.update({
        "outbox": outbox, "outbox_messages": [], "events": [e.to_json() for e in recent[-limit:]],
        "threads": [t.to_json() for t in forum.list_threads(ticket=ticket, run_id=run_id, limit=limit)],
        "control_threads": controls, "bus": bus,
    })
    return snap
