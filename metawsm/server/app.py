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
from metawsm.forum.index import skipped_lines
from metawsm.forum.service import Forum
from metawsm.server import (
    api_debug,
    api_forum,
    api_runs,
    api_screens,
    auth,
    browser,
    contract,
    debug_snapshot,
    errors,
    limits,
    stream,
)
from metawsm.server.screen_models import document_stream
from metawsm.server.screens import ScreenHub
from metawsm.server.worker import Worker

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
LAGGING_BYTES = 4 << 20  # an index this far behind the log is reported as lagging


def create_app(project: Any, policy: Any, *, token: str | None = None, worker: bool = True,
               operator: bool = False, heartbeat: float | None = None, poll: float = 0.05,
               stream_queue: int = 256, go_ui: Path | None = None, listen_host: str = "127.0.0.1",
               browser_checks: bool = True) -> FastAPI:
    """The daemon's ASGI app. `worker=False` leaves runs alone (tests, read-only fronts). `go_ui`: a
    built Go metawsm UI served at `/` (ours moves to `/ui`; see goui.py). `listen_host` is the address
    served (for the Host check, see browser.py); `browser_checks=False` turns the Host and CSRF checks
    off — a test-only setting for the benchmark that measures their cost."""
    forum = Forum.for_project(project, policy)
    hub = stream.Hub(forum, poll=poll, queue_size=stream_queue)
    screens = ScreenHub(_capture(project, policy))
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
            await screens.stop()
            await hub.stop()
            if worker:
                await work.stop()
            forum.shutdown()

    app = FastAPI(title="metawsm", version=__version__, lifespan=lifespan, openapi_url="/openapi.json",
                  docs_url="/api/docs", redoc_url=None,
                  description="The metawsm daemon: runs, the forum and its live stream. See docs/api.md.")
    st = app.state
    st.project, st.policy, st.forum, st.token = project, policy, forum, token
    st.hub, st.worker, st.streams, st.screens = hub, work, set(), screens
    st.heartbeat = heartbeat if heartbeat is not None else policy.server.heartbeat_seconds
    st.started_monotonic, st.started_at = time.monotonic(), stamp()

    contract.fix_openapi(app)
    document_stream(app)
    st.login_throttle = auth.Throttle()
    errors.install(app)
    app.add_middleware(auth.AuthMiddleware, token=token, state_db=project.state_dir / "state.db")
    hosts = browser.allowed_hosts(listen_host, policy.server.allowed_hosts)
    app.add_middleware(browser.BrowserGuard, allowed_hosts=hosts, checks=browser_checks)
    app.add_middleware(limits.LimitMiddleware, max_body=limits.body_limit(policy.forum.max_body_bytes))
    app.include_router(health_router())
    app.include_router(api_runs.router)
    app.include_router(api_screens.router)
    app.include_router(api_forum.router)
    app.include_router(api_debug.router)
    app.include_router(stream.router)
    app.include_router(auth.router)
    st.ui_base = ""
    try:
        from metawsm.server.ui import login_router
        from metawsm.server.ui import router as ui_router
    except ImportError:
        log.debug("no web UI module (metawsm.server.ui)")
    else:
        if go_ui is not None:
            from metawsm.server.goui import OWN_UI_BASE

            st.ui_base = OWN_UI_BASE
        app.include_router(ui_router, prefix=st.ui_base)
        app.include_router(login_router)
    if STATIC.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if go_ui is not None:
        from metawsm.server import goui

        goui.install(app, go_ui)
    return app


def _capture(project: Any, policy: Any) -> Any:
    """The screen hub's capture: the repository's Runtime (opened on first use), None for a session not running."""
    runtime: list[Any] = []

    def capture(session: str) -> Any:
        from metawsm.errors import ExternalError

        if not runtime:
            from metawsm.engine.context import Engine

            runtime.append(Engine.open(project, policy).runtime)
        try:
            return runtime[0].screen(session)
        except ExternalError:
            return None

    return capture


def forum_facts(forum: Forum) -> dict[str, Any]:
    """Log size, how far the index has read it, and the lag between them (a read-only connection, so
    health never waits on a writer)."""
    size = forum.log.size()
    offset: int | None = None
    error = None
    if not forum.index.path.exists():
        return {"log_bytes": size, "index_offset": 0, "index_lag_bytes": size, "index_lagging": size > LAGGING_BYTES,
                "log_ok": True, "log_skipped_lines": 0}
    skipped: list[tuple[int, int]] = []
    try:
        conn = sqlite3.connect(f"file:{forum.index.path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'offset'").fetchone()
            offset = int(row[0]) if row else 0
            skipped = skipped_lines(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        error = str(exc)
    lag = None if offset is None else max(size - offset, 0)
    torn = size - forum.log._complete_end() if size else 0
    facts: dict[str, Any] = {"log_bytes": size, "index_offset": offset, "index_lag_bytes": lag,
                             "index_lagging": lag is None or lag > LAGGING_BYTES,
                             "log_ok": not skipped and not torn, "log_skipped_lines": len(skipped),
                             "log_torn_bytes": torn}
    if skipped:
        line, at = skipped[0]
        facts["log_error"] = (f"{forum.log.path}:{line} (byte {at}) and {len(skipped) - 1} more line(s) are "
                              "not valid events; see `metawsm forum doctor`")
    elif torn:
        facts["log_error"] = (f"{forum.log.path} ends in {torn} bytes without a newline (a torn write); the "
                              "next append cuts them")
    if error:
        facts["index_error"] = error
    return facts


def health_router() -> Any:
    from fastapi import APIRouter

    router = APIRouter(tags=["health"])

    @router.get("/api/v1/health", responses={503: {"description": "degraded: the worker keeps failing, "
                                                                 "or the forum log has lines that are not events"}})
    def health(request: Request) -> JSONResponse:
        """Status, uptime, worker ticks, forum log size and index lag, recent reconcile errors."""
        st = request.app.state
        work: Worker = st.worker
        facts = forum_facts(st.forum)
        log_bad = not facts["log_ok"] or "index_error" in facts
        degraded = work.degraded or log_bad
        outbox, _ = debug_snapshot.index_outbox(st.forum, st.hub.head)
        body = {
            "status": "degraded" if degraded else "ok", "started_at": st.started_at, "now": stamp(),
            "uptime_seconds": round(time.monotonic() - st.started_monotonic, 3),
            "version": __version__, "worker": {**work.snapshot(), "outbox": outbox},
            "reconcile_errors": list(work.reconcile_errors),
            "forum": {**facts, "head_sequence": st.hub.head}, "stream": {**st.hub.stats(), **st.screens.stats()},
            # the Go server's fields, so its web client's banner logic works unchanged: the "bus" is
            # the worker, the "outbox" the forum index lag (see /api/v1/forum/debug)
            "forum_bus": {"healthy": not degraded, **({"error": _why(work, facts)} if degraded else {})},
            "outbox": outbox,
        }
        if degraded:
            body["error"] = _why(work, facts)
        return JSONResponse(body, status_code=503 if degraded else 200)

    return router


def _why(work: Worker, facts: dict[str, Any]) -> str | None:
    return work.last_error if work.degraded else (facts.get("log_error") or facts.get("index_error"))
