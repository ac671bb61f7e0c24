"""`GET /api/v1/forum/debug`: the Go metawsm's ForumStreamDebugSnapshot, filled with this daemon's
equivalents (metawsm/server/debug_snapshot.py; docs/api.md, "Forum debug")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from metawsm.server import contract as c
from metawsm.server import models as m
from metawsm.server.debug_snapshot import snapshot
from metawsm.server.errors import ApiError

router = APIRouter(prefix="/api/v1/forum", tags=["forum"])


@router.get("/debug", response_model=m.DebugOut, responses=m.errors(400))
def debug(request: Request, ticket: c.QText = None, run_id: c.QText = None, limit: c.Limit = 50
          ) -> dict[str, Any]:
    """Diagnostics in the Go server's shape: bus (log, index, stream), outbox (index lag), recent
    events, threads and control threads."""
    if limit < 1:
        raise ApiError(400, "invalid_limit", "limit must be >= 1")
    st = request.app.state
    worker = st.worker
    return {"debug": snapshot(st.forum, head=st.hub.head, running=st.hub.running,
                              worker_error=(worker.last_error or "the worker keeps failing") if worker.degraded
                              else None, ticket=ticket or None, run_id=run_id or None, limit=limit)}
