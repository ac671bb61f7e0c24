"""`GET /api/v1/forum/debug`: the Go metawsm's `ForumStreamDebugSnapshot` shape, filled with this
daemon's real equivalents (docs/api.md, "forum debug"):

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

from fastapi import APIRouter, Request

from metawsm.forum import queries
from metawsm.forum.ids import now as stamp
from metawsm.server import models as m
from metawsm.server.errors import ApiError

router = APIRouter(prefix="/api/v1/forum", tags=["forum"])

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


def index_outbox(forum: Any, hub: Any) -> tuple[dict[str, Any], str | None]:
    """(the Go "outbox" stats: the index lag, index error or None)."""
    indexed, error = _indexed_head(forum.index.path)
    pending = max(hub.head - indexed, 0) if indexed is not None else 0
    return _outbox(pending, forum.index.path), error


@router.get("/debug", response_model=m.DebugOut, responses=m.errors(400))
def debug(request: Request, ticket: str | None = None, run_id: str | None = None, limit: int = 50
          ) -> dict[str, Any]:
    """Diagnostics in the Go server's shape: bus (log, index, stream), outbox (index lag), recent
    events, threads and control threads."""
    if limit < 1:
        raise ApiError(400, "invalid_limit", "limit must be >= 1")
    limit = min(limit, MAX_LIMIT)
    st = request.app.state
    forum, hub, worker = st.forum, st.hub, st.worker
    outbox, index_error = index_outbox(forum, hub)
    ticket, run_id = ticket or None, run_id or None
    recent, _ = forum.events(max(hub.head - 5 * limit, 0), 5 * limit, ticket=ticket, run_id=run_id)
    counts = forum.read(queries.event_type_counts)
    controls = forum.read(lambda c: queries.control_threads(c, ticket, run_id, limit))
    log_path, exists = str(forum.log.path), forum.log.path.exists()
    healthy = not worker.degraded and index_error is None
    health_error = index_error or (worker.last_error if worker.degraded else None)
    topics = [{"topic": t, "stream": log_path, "handler_registered": True, "subscribed": True,
               "stream_exists": exists, "stream_length": n, "consumer_group_present": forum.index.path.exists(),
               "consumer_group_pending": 0, "consumer_group_lag": 0} for t, n in sorted(counts.items())]
    bus: dict[str, Any] = {
        "running": hub.running, "healthy": healthy, "stream_name": log_path,
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
        "outbox": outbox, "outbox_messages": [],
        "events": [e.to_json() for e in recent[-limit:]],
        "threads": [t.to_json() for t in forum.list_threads(ticket=ticket, run_id=run_id, limit=limit)],
        "control_threads": controls, "bus": bus,
    })
    return {"debug": snap}
