"""The app factory: API routers, the WebSocket stream, the UI (when present), auth, error shape, and
the lifespan that starts and stops the shared log follower and the reconcile worker."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from metawsm import __version__
from metawsm.forum.ids import now as stamp
from metawsm.forum.service import Forum
from metawsm.server import api_debug, api_forum, api_runs, auth, errors, stream
from metawsm.server.worker import Worker

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")


def create_app(project: Any, policy: Any, *, token: str | None = None, worker: bool = True,
               operator: bool = False, heartbeat: float | None = None, poll: float = 0.05,
               stream_queue: int = 256) -> FastAPI:
    """The daemon's ASGI app. `worker=False` leaves runs alone (tests, read-only fronts)."""
    forum = Forum.for_project(project, policy)
    hub = stream.Hub(forum, poll=poll, queue_size=stream_queue)
    work = Worker(project, policy, forum, policy.server.reconcile_interval, operator=operator)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        if worker:
            await work.start()
        try:
            yield
        finally:
            await stream.close_all(app)
            await hub.stop()
            if worker:
                await work.stop()
            forum.shutdown()

    app = FastAPI(title="metawsm", version=__version__, lifespan=lifespan, openapi_url="/openapi.json",
                  docs_url="/api/docs", redoc_url=None,
                  description="The metawsm daemon: runs, the forum and its live stream. See docs/api.md.")
    st = app.state
    st.project, st.policy, st.forum, st.token = project, policy, forum, token
    st.hub, st.worker, st.streams = hub, work, set()
    st.heartbeat = heartbeat if heartbeat is not None else policy.server.heartbeat_seconds
    st.started_monotonic, st.started_at = time.monotonic(), stamp()

    errors.install(app)
    app.add_middleware(auth.AuthMiddleware, token=token)
    app.include_router(health_router())
    app.include_router(api_runs.router)
    app.include_router(api_forum.router)
    app.include_router(api_debug.router)
    app.include_router(stream.router)
    app.include_router(auth.router)
    try:
        from metawsm.server.ui import router as ui_router
    except ImportError:
        log.debug("no web UI module (metawsm.server.ui)")
    else:
        app.include_router(ui_router)
    if STATIC.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def forum_facts(forum: Forum) -> dict[str, Any]:
    """Log size, how far the index has read it, and the lag between them (a read-only connection, so
    health never waits on a writer)."""
    size = forum.log.size()
    offset: int | None = None
    error = None
    if not forum.index.path.exists():
        return {"log_bytes": size, "index_offset": 0, "index_lag_bytes": size}
    try:
        conn = sqlite3.connect(f"file:{forum.index.path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'offset'").fetchone()
            offset = int(row[0]) if row else 0
        finally:
            conn.close()
    except sqlite3.Error as exc:
        error = str(exc)
    facts: dict[str, Any] = {"log_bytes": size, "index_offset": offset,
                             "index_lag_bytes": None if offset is None else max(size - offset, 0)}
    if error:
        facts["index_error"] = error
    return facts


def health_router() -> Any:
    from fastapi import APIRouter

    router = APIRouter(tags=["health"])

    @router.get("/api/v1/health", responses={503: {"description": "degraded: the worker keeps failing"}})
    def health(request: Request) -> JSONResponse:
        """Status, uptime, worker ticks, forum log size and index lag, recent reconcile errors."""
        st = request.app.state
        work: Worker = st.worker
        degraded = work.degraded
        outbox, _ = api_debug.index_outbox(st.forum, st.hub)
        body = {
            "status": "degraded" if degraded else "ok", "started_at": st.started_at, "now": stamp(),
            "uptime_seconds": round(time.monotonic() - st.started_monotonic, 3),
            "version": __version__, "worker": {**work.snapshot(), "outbox": outbox},
            "reconcile_errors": list(work.reconcile_errors),
            "forum": {**forum_facts(st.forum), "head_sequence": st.hub.head}, "stream": st.hub.stats(),
            # the Go server's fields, so its web client's banner logic works unchanged: the "bus" is
            # the worker, the "outbox" the forum index lag (see /api/v1/forum/debug)
            "forum_bus": {"healthy": not degraded, **({"error": work.last_error} if degraded else {})},
            "outbox": outbox,
        }
        if degraded:
            body["error"] = work.last_error
        return JSONResponse(body, status_code=503 if degraded else 200)

    return router
