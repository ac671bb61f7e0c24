"""The web UI: server-rendered HTML pages (Jinja2, autoescaped) over the same core reads as the API.

Pages: `/` runs, `/runs/{run_id}` one run (`/runs/{run_id}/diff/{ticket}` a ticket's diff,
`/runs/{run_id}/agents/{ticket}/{agent}/transcript?attempt=N` an agent attempt's transcript),
`/forum` the board, `/forum/threads/{id}` one thread,
`/login`. They only read (snapshots and forum queries); every change goes from the browser to the
JSON API (`static/app.js`), and the WebSocket stream tells the page when to re-read its live parts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from metawsm.errors import MetawsmError, NotFoundError
from metawsm.forum.models import PRIORITIES, STATES, TRANSITIONS, VIEWER_TYPES, Thread
from metawsm.server.agentviews import TRANSCRIPT_SHOWN, agent_extras, read_transcript
from metawsm.server.api_runs import engine as _engine
from metawsm.state.machines import ACTIVE_RUN_STATES, can_transition

HERE = Path(__file__).parent
RUNS_SHOWN = 50  # the runs page lists active runs plus this many recent finished ones
DEFAULT_VIEWER = "human:operator"
LANES = (("new", "New", ("new",)), ("active", "Active", ("triaged", "waiting_operator", "waiting_human")),
         ("answered", "Answered", ("answered",)))

router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                        trim_blocks=True, lstrip_blocks=True)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit} ago"
    return f"{s}s ago"


def _when(stamp: str | None) -> str:
    """An ISO timestamp shortened for reading: 2026-11-23 01:18:42 (UTC)."""
    return stamp.replace("T", " ")[:19] if stamp else "-"


def _since(stamp: str | None) -> str:
    """How long ago an ISO timestamp was, as `3m ago`."""
    if not stamp:
        return "-"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return _age(max(0.0, (datetime.now(UTC) - then).total_seconds()))


templates.filters.update(age=_age, when=_when, since=_since)


# -- plumbing ---------------------------------------------------------------------------------
# Access control is the auth middleware's (metawsm/server/auth.py): a page request without the session
# cookie is redirected to /login before it reaches these routes.


def _page(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    """Render a page. `ui_base` is where the pages live: "" at `/`, or "/ui" when `serve --go-ui` puts
    the Go metawsm's UI at `/`; `request_path` is the page's path below it."""
    base = getattr(request.app.state, "ui_base", "")
    path = request.url.path.removeprefix(base) or "/"
    html = templates.get_template(name).render(request_path=path, ui_base=base,
                                               csrf_token=getattr(request.state, "csrf_token", ""), **ctx)
    return HTMLResponse(html, status_code=status)


def _error(request: Request, exc: MetawsmError, status: int) -> Response:
    return _page(request, "error.html", status=status, title="Not found" if status == 404 else "Error",
                 message=str(exc), hint=getattr(exc, "hint", None))


def _viewer(raw: str | None) -> tuple[str, str, str]:
    """`KIND:NAME` (default human:operator) → ("kind:name", kind, name); a bare NAME is a human."""
    kind, sep, name = (raw or "").strip().partition(":")
    if not sep:
        kind, name = "human", kind
    kind, name = kind.strip().lower(), name.strip()
    if kind not in VIEWER_TYPES:
        kind = "human"
    if not name:
        kind, name = DEFAULT_VIEWER.split(":")
    return f"{kind}:{name}", kind, name


def _head(eng: Any) -> int:
    """The forum log's last sequence: where a page's WebSocket starts (the page shows all before it)."""
    return int(eng.forum.log.last_sequence())


# -- runs -------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request, ticket: str | None = None) -> Response:
    from metawsm.engine.snapshot import build_snapshots

    with _engine(request) as eng:
        runs = []
        if eng.has_state():
            active = eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES), ticket=ticket or None)
            seen = {r.run_id for r in active}
            recent = eng.store.list_runs(ticket=ticket or None, limit=RUNS_SHOWN + len(active))
            runs = active + [r for r in recent if r.run_id not in seen][:RUNS_SHOWN]
        snaps = build_snapshots(eng, runs, evaluate_health=False)
        return _page(request, "runs.html", title="Runs", snaps=snaps, ticket=ticket or "",
                     live={"cursor": _head(eng), "poll": 10})


def _step_groups(snap: Any) -> list[tuple[str, list[list[list[Any]]]]]:
    """Steps by ticket in plan order (plan-wide steps last), each ticket's steps as stages of its chain: a
    ticket's agents run side by side, so their session and agent steps form one stage with a lane per agent."""
    groups: dict[str, list[Any]] = {}
    for step in snap.steps:
        groups.setdefault(step.ticket or "", []).append(step)
    ordered = [(t, _stages(groups[t])) for t in snap.tickets if t in groups]
    if "" in groups:
        ordered.append(("", _stages(groups[""])))
    return ordered


def _stages(steps: list[Any]) -> list[list[list[Any]]]:
    stages: list[list[list[Any]]] = []
    lanes: dict[str, list[Any]] | None = None
    for step in steps:
        if step.kind in ("session", "agent") and step.agent:
            if lanes is None:
                lanes = {}
                stages.append([])  # filled below, in the order the agents first appear
            lanes.setdefault(step.agent, []).append(step)
            stages[-1] = list(lanes.values())
        else:
            lanes = None
            stages.append([[step]])
    return stages


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    from metawsm.engine.selection import select_runs
    from metawsm.engine.snapshot import build_snapshots

    with _engine(request) as eng:
        try:
            snap = build_snapshots(eng, select_runs(eng, run_id=run_id), evaluate_health=False)[0]
        except NotFoundError as exc:
            return _error(request, exc, 404)
        threads = eng.forum.list_threads(run_id=run_id, limit=200)
        notes, transcripts = agent_extras(eng.project.logs_dir, snap)
        return _page(request, "run.html", title=f"Run {run_id}", snap=snap, groups=_step_groups(snap),
                     controls=_controls(snap.status), can_message=request.app.state.token is not None,
                     notes=notes, transcripts=transcripts,
                     threads=threads, live={"run_id": run_id, "cursor": _head(eng), "poll": 5})


@router.get("/runs/{run_id}/agents/{ticket}/{agent}/transcript", response_class=HTMLResponse)
def transcript_page(request: Request, run_id: str, ticket: str, agent: str,
                    attempt: int | None = Query(None, ge=1, le=1_000_000)) -> Response:
    """One attempt's transcript (the latest by default), control sequences removed, every character escaped."""
    with _engine(request) as eng:
        try:
            eng.store.get_run(run_id)
        except NotFoundError as exc:
            return _error(request, exc, 404)
        from metawsm.engine.remotelogs import sync_transcripts

        sync_transcripts(eng, run_id, ticket=ticket, agent=agent)  # an ssh agent's transcript, from its host
        found = read_transcript(eng.project.logs_dir, run_id, ticket, agent, attempt)
        if found is None:
            what = f"attempt {attempt} of " if attempt else ""
            return _error(request, NotFoundError(f"no transcript of {what}{ticket}/{agent} in run {run_id}",
                                                 hint=f"metawsm logs {ticket}/{agent} lists what there is"), 404)
        return _page(request, "transcript.html", title=f"Transcript {ticket}/{agent}", run_id=run_id,
                     ticket=ticket, agent=agent, t=found, shown=TRANSCRIPT_SHOWN)


PATCH_SHOWN = 2_000_000  # characters of patch a diff page renders; past that it points at `metawsm diff`


@router.get("/runs/{run_id}/diff/{ticket}", response_class=HTMLResponse)
def diff_page(request: Request, run_id: str, ticket: str) -> Response:
    """One ticket's commits, changed files and patch (every character escaped by the template)."""
    from metawsm.engine.ticketdiff import ticket_diff

    with _engine(request) as eng:
        try:
            run = eng.store.get_run(run_id)
            diff = ticket_diff(eng.store, run, ticket)
        except MetawsmError as exc:
            return _error(request, exc, 404 if isinstance(exc, NotFoundError) else 500)
        return _page(request, "diff.html", title=f"Diff {ticket}", run_id=run_id, diff=diff, limit=PATCH_SHOWN,
                     summary={k: v for k, v in diff.to_json(patch=False).items() if k != "repos"})


CHECK_LOG_SHOWN = 5_000_000  # bytes of a check log served; the last ones (where a failure is) are kept


@router.get("/runs/{run_id}/checks/{ticket}/log")
def check_log(request: Request, run_id: str, ticket: str) -> Response:
    """The full log of a ticket's checks, as plain text (the run page links it from the check step)."""
    from metawsm.engine.kinds.check import log_path_for

    with _engine(request) as eng:
        try:
            eng.store.get_run(run_id)
        except NotFoundError as exc:
            return _error(request, exc, 404)
        path = log_path_for(eng.project.logs_dir, run_id, ticket)
        if "/" in ticket or ".." in ticket or not path.is_file():
            return _error(request, NotFoundError(f"no check log of {ticket} in run {run_id}"), 404)
        data = path.read_bytes()[-CHECK_LOG_SHOWN:]
        return Response(data.decode("utf-8", errors="replace"), media_type="text/plain; charset=utf-8")


def _controls(status: str) -> dict[str, bool]:
    """Which of stop/resume/restart the run's state machine allows now (the API has the last word)."""
    return {"stop": can_transition("run", status, "stopping"),
            "resume": status not in ("running", "awaiting_guidance") and can_transition("run", status, "running"),
            "restart": status not in ("closed", "closing")}


# -- forum ------------------------------------------------------------------------------------
def _lanes(threads: list[Thread]) -> list[dict[str, Any]]:
    return [{"key": key, "title": title, "threads": [t for t in threads if t.state in states]}
            for key, title, states in LANES]


@router.get("/forum", response_class=HTMLResponse)
def board_page(request: Request, viewer: str | None = None, q: str | None = None, priority: str | None = None,
               ticket: str | None = None, run_id: str | None = None) -> Response:
    raw, kind, name = _viewer(viewer)
    prio = priority if priority in PRIORITIES else None
    filters: dict[str, Any] = {"ticket": ticket or None, "run_id": run_id or None, "priority": prio}
    who: dict[str, Any] = {"viewer_type": kind, "viewer_id": name}
    with _engine(request) as eng:
        forum = eng.forum
        try:
            if q and q.strip():
                found = forum.search(q, limit=300, **filters, **who)
            else:
                found = forum.list_threads(limit=300, **filters, **who)
            unanswered = forum.queue("unanswered", limit=100, **filters, **who)
            unseen = forum.queue("unseen", limit=100, **filters, **who)
            mine = forum.list_threads(limit=100, assignee=name, **filters, **who)
        except MetawsmError as exc:
            return _error(request, exc, 400)
        needs_me = {t.thread_id: t for t in [*unanswered, *mine] if t.state != "closed"}
        closed = [t for t in found if t.state == "closed"][:20]
        tickets = sorted({t.ticket for t in found} | _known_tickets(eng))
        return _page(request, "board.html", title="Forum", lanes=_lanes(found), needs_me=list(needs_me.values()),
                     unseen=unseen, closed=closed, tickets=tickets, priorities=PRIORITIES,
                     viewer=raw, viewer_kind=kind, viewer_name=name, q=q or "", priority=prio or "",
                     ticket=ticket or "", run_id=run_id or "",
                     live={"ticket": ticket or "", "run_id": run_id or "", "cursor": _head(eng)})


def _known_tickets(eng: Any) -> set[str]:
    if not eng.has_state():
        return set()
    return {t for run in eng.store.list_runs(limit=20) for t in _run_tickets(eng, run.run_id)}


def _run_tickets(eng: Any, run_id: str) -> set[str]:
    return {s.ticket for s in eng.store.list_steps(run_id) if s.ticket}


def _timeline(posts: list[Any], events: list[Any]) -> list[dict[str, Any]]:
    """Events in sequence order, each with its post body when it carries one."""
    bodies = {p.event_id: p.body for p in posts}
    out = []
    for e in events:
        if e.event_type == "forum.thread.seen":
            continue
        control = e.payload if e.event_type == "forum.control.signal" else None
        body = None if control else bodies.get(e.event_id, e.payload.get("body"))
        out.append({"event": e, "body": body, "control": control, "kind": e.event_type.removeprefix("forum.")})
    return out


@router.get("/forum/threads/{thread_id}", response_class=HTMLResponse)
def thread_page(request: Request, thread_id: str, viewer: str | None = None) -> Response:
    raw, kind, name = _viewer(viewer)
    with _engine(request) as eng:
        try:
            thread, posts, events = eng.forum.get_thread(thread_id)
        except NotFoundError as exc:
            return _error(request, exc, 404)
        moves = sorted(TRANSITIONS.get(thread.state, frozenset()) - {"closed"}, key=STATES.index)
        return _page(request, "thread.html", title=thread.title, thread=thread, timeline=_timeline(posts, events),
                     moves=moves, priorities=PRIORITIES, viewer=raw, viewer_kind=kind, viewer_name=name,
                     live={"ticket": thread.ticket, "thread_id": thread.thread_id,
                           "cursor": thread.last_event_sequence, "seen": thread.last_event_sequence})


# -- login ------------------------------------------------------------------------------------
login_router = APIRouter(include_in_schema=False)  # always at /login, whatever the pages' base


@login_router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", error: str | None = None) -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return _page(request, "login.html", title="Sign in", next=target,
                 error="That token is not right." if error else None,
                 needs_token=bool(getattr(request.app.state, "token", None)))
