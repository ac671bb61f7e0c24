"""`/api/v1/forum/…`: threads, posts, answers, assignment, state, priority, read marks, search, queues,
the event feed, stats and control signals — each route one call on the shared `Forum`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from metawsm.forum import control
from metawsm.forum.ids import agent_key
from metawsm.forum.service import Forum
from metawsm.server import contract as c
from metawsm.server import models as m
from metawsm.server.agent_auth import require_own, scope_of
from metawsm.server.errors import ApiError

router = APIRouter(prefix="/api/v1/forum", tags=["forum"])

THREAD_ERRORS = m.errors(400, 404, 409)


def forum_of(request: Request) -> Forum:
    return request.app.state.forum  # type: ignore[no-any-return]


def _viewer(viewer_type: str | None, viewer_id: str | None) -> dict[str, Any]:
    """A viewer_id alone is a human's; a viewer_type alone means its default viewer (`operator`)."""
    if not viewer_type and not viewer_id:
        return {"viewer_type": None, "viewer_id": None}
    return {"viewer_type": viewer_type or "human", "viewer_id": viewer_id or "operator"}


def _filters(ticket: str | None, run_id: str | None, state: str | None, priority: str | None,
             assignee: str | None) -> dict[str, Any]:
    return {"ticket": ticket or None, "run_id": run_id or None, "state": state or None,
            "priority": priority or None, "assignee": assignee or None}


def _positive(name: str, value: int, code: str) -> int:
    if value < 1:
        raise ApiError(400, code, f"{name} must be >= 1")
    return value


@router.get("/threads", response_model=m.ThreadsOut, responses=m.errors(400))
def list_threads(request: Request, ticket: c.QText = None, run_id: c.QText = None,
                 state: c.QState = None, priority: c.QPriority = None, assignee: c.QText = None,
                 viewer_type: c.QViewerType = None, viewer_id: c.QName = None,
                 limit: c.Limit = 50) -> dict[str, Any]:
    """Threads, urgent first, then most recently active."""
    _positive("limit", limit, "invalid_limit")
    return {"threads": forum_of(request).list_threads(**_filters(ticket, run_id, state, priority, assignee),
                                                      limit=limit, **_viewer(viewer_type, viewer_id))}


@router.post("/threads", response_model=m.ThreadOut, responses=m.errors(400))
def open_thread(request: Request, body: m.OpenThread) -> dict[str, Any]:
    """Open a thread with its first post. With an agent token: a thread on its own ticket, as itself."""
    if scope_of(request) is not None:
        require_own(request, body.run_id, body.ticket, body.agent_name)
        _as_agent(body.actor_type)
    t = forum_of(request).open_thread(body.ticket, body.title, body.body, priority=body.priority or "normal",
                                      run_id=body.run_id, agent_name=body.agent_name, thread_id=body.thread_id,
                                      idempotency_key=body.idempotency_key, **body.who())
    return {"thread": t}


@router.get("/threads/{thread_id}", response_model=m.ThreadDetailOut, responses=m.errors(404))
def get_thread(request: Request, thread_id: str) -> dict[str, Any]:
    """A thread with its posts and events."""
    t, posts, events = forum_of(request).get_thread(thread_id)
    return {"thread": t, "posts": posts, "events": [e.to_json() for e in events]}


@router.post("/threads/{thread_id}/posts", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def add_post(request: Request, thread_id: str, body: m.AddPost) -> dict[str, Any]:
    return {"thread": forum_of(request).post(thread_id, body.body, idempotency_key=body.idempotency_key,
                                             **body.who())}


@router.post("/threads/{thread_id}/answer", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def answer(request: Request, thread_id: str, body: m.Answer) -> dict[str, Any]:
    """Post an answer and move the thread to answered; on a control thread this also records a
    guidance_answer for the agent's current attempt (unblocking its `metawsm ask`)."""
    return {"thread": forum_of(request).answer(thread_id, body.body, **body.who())}


@router.post("/threads/{thread_id}/assign", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def assign(request: Request, thread_id: str, body: m.Assign) -> dict[str, Any]:
    return {"thread": forum_of(request).assign(thread_id, body.assignee_type, body.assignee_name,
                                               note=body.assignment_note or "", **body.who())}


@router.post("/threads/{thread_id}/state", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def change_state(request: Request, thread_id: str, body: m.ChangeState) -> dict[str, Any]:
    """Move a thread to another state; illegal moves give 409."""
    return {"thread": forum_of(request).set_state(thread_id, body.to_state, **body.who())}


@router.post("/threads/{thread_id}/priority", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def change_priority(request: Request, thread_id: str, body: m.ChangePriority) -> dict[str, Any]:
    return {"thread": forum_of(request).set_priority(thread_id, body.priority, **body.who())}


@router.post("/threads/{thread_id}/close", response_model=m.ThreadOut, responses=THREAD_ERRORS)
def close(request: Request, thread_id: str, body: m.Close) -> dict[str, Any]:
    """Close a thread (closing a closed thread changes nothing)."""
    return {"thread": forum_of(request).close(thread_id, **body.who())}


@router.post("/threads/{thread_id}/seen", response_model=m.SeenOut, responses=m.errors(400, 404))
def mark_seen(request: Request, thread_id: str, body: m.MarkSeen) -> dict[str, Any]:
    """Raise a viewer's read mark (never lowers it)."""
    return {"seen": forum_of(request).mark_seen(thread_id, body.viewer_type, body.viewer_id,
                                                body.last_seen_event_sequence)}


@router.post("/threads/{thread_id}/{action}", responses=m.errors(404), include_in_schema=False)
def unknown_action(thread_id: str, action: str) -> None:
    raise ApiError(404, "unknown_action", f"unknown thread action {action!r}")


CURSOR_DOC = "keyset paging: only threads whose last_event_sequence < cursor (0: from the top)"


def _cursor(cursor: int) -> int:
    if cursor < 0:
        raise ApiError(400, "invalid_cursor", "cursor must be >= 0")
    return cursor


@router.get("/search", response_model=m.ThreadsOut, responses=m.errors(400))
def search(request: Request, query: c.QSearch = "", ticket: c.QText = None, run_id: c.QText = None,
           state: c.QState = None, priority: c.QPriority = None, assignee: c.QText = None,
           viewer_type: c.QViewerType = None, viewer_id: c.QName = None, limit: c.Limit = 50,
           cursor: c.Cursor = 0) -> dict[str, Any]:
    """Search titles and posts: every word as a word prefix, or the whole query as a substring
    (case-insensitive); title hits rank first. An empty query matches every thread (as the Go
    server's LIKE '%%' did), listed like /threads."""
    _positive("limit", limit, "invalid_limit")
    forum, args = forum_of(request), {**_filters(ticket, run_id, state, priority, assignee),
                                      **_viewer(viewer_type, viewer_id), "cursor": _cursor(cursor)}
    if query.strip():
        return {"threads": forum.search(query, limit=limit, **args)}
    return {"threads": forum.list_threads(limit=limit, **args)}


@router.get("/queues", response_model=m.ThreadsOut, responses=m.errors(400))
def queues(request: Request, type: Annotated[Literal["unseen", "unanswered"], Query(description="the queue")],
           ticket: c.QText = None, run_id: c.QText = None, state: c.QState = None,
           priority: c.QPriority = None, assignee: c.QText = None, viewer_type: c.QViewerType = None,
           viewer_id: c.QName = None, limit: c.Limit = 100,
           cursor: c.Cursor = 0) -> dict[str, Any]:
    """`unseen` (for the viewer; default human:operator) or `unanswered` threads."""
    if type == "unseen" and not viewer_type and not viewer_id:
        viewer_type, viewer_id = "human", "operator"
    _positive("limit", limit, "invalid_limit")
    return {"threads": forum_of(request).queue(type, limit=limit, **_viewer(viewer_type, viewer_id),
                                               cursor=_cursor(cursor),
                                               **_filters(ticket, run_id, state, priority, assignee))}


@router.get("/events", response_model=m.EventsOut, responses=m.errors(400))
def events(request: Request, cursor: c.Cursor = 0, limit: c.Limit = 100, ticket: c.QText = None,
           run_id: c.QText = None) -> dict[str, Any]:
    """Events with sequence > cursor, ascending; resume with `next_cursor`."""
    if cursor < 0:
        raise ApiError(400, "invalid_cursor", "cursor must be >= 0")
    _positive("limit", limit, "invalid_limit")
    found, next_cursor = forum_of(request).events(cursor, limit, ticket=ticket or None, run_id=run_id or None)
    return {"events": [e.to_json() for e in found], "next_cursor": next_cursor}


@router.get("/stats", response_model=m.StatsOut)
def stats(request: Request, ticket: c.QText = None, run_id: c.QText = None) -> dict[str, Any]:
    """Thread counts per ticket, run, state and priority."""
    return {"stats": forum_of(request).stats(ticket=ticket or None, run_id=run_id or None)}


@router.post("/control/signal", response_model=m.SignalOut, responses=m.errors(400))
def control_signal(request: Request, body: m.ControlSignal) -> dict[str, Any]:
    """Record a control signal in the agent's control thread, validated like `metawsm signal`. A Go
    metawsm payload (no `attempt`; a validation without `sha`) counts for the agent's current attempt
    and, for a validation, the ticket worktree's HEAD."""
    if body.actor_type.strip().lower() == "system":  # only metawsm itself signals as system (gate trust)
        raise ApiError(403, "forbidden", "actor_type system is reserved for metawsm's own signals")
    require_own(request, body.run_id, body.ticket, body.agent_name)
    if scope_of(request) is not None:
        _as_agent(body.actor_type)
    key = agent_key(body.ticket, body.agent_name)
    from metawsm.server.go_compat import complete_payload

    payload = control.validate(complete_payload(request.app.state, body.run_id, body.ticket, key,
                                                dict(body.payload)))
    if payload["run_id"] != body.run_id:  # a conflict between two parts of one request (409)
        raise ApiError(409, "conflict", f"payload.run_id must equal the request's run_id {body.run_id!r}")
    if payload["agent_name"] not in (body.agent_name, key):
        raise ApiError(409, "conflict", f"payload.agent_name must equal the request's agent_name "
                                        f"{body.agent_name!r}")
    fields = {k: v for k, v in payload.items() if k not in control.COMMON}
    forum = forum_of(request)
    event = forum.signal(body.run_id, body.ticket, key, payload["attempt"], payload["control_type"],
                         actor_type=body.actor_type, actor_name=body.actor_name or key,
                         idempotency_key=body.idempotency_key, **fields)
    request.app.state.worker.wake()
    return {"thread": forum.get_thread(event.thread_id)[0], "event": event.to_json()}


def _as_agent(actor_type: str) -> None:
    if actor_type.strip().lower() != "agent":
        raise ApiError(403, "forbidden", "an agent token acts as actor_type agent only")


@router.get("/control/state", response_model=m.ControlStateOut, responses=m.errors(400, 403))
def control_state(request: Request, run_id: c.QRequiredName, agent_name: c.QRequiredName,
                  attempt: Annotated[int, Query(ge=1, le=1_000_000, description="the agent's attempt")],
                  ticket: c.QName = None) -> dict[str, Any]:
    """The control state of one (run, agent, attempt): pending question, latest answer, completion and
    validation — what `metawsm ask` waits on when the agent reports through the daemon. `agent_name` is
    TICKET/NAME, or NAME with `ticket`."""
    key = agent_key(ticket, agent_name) if ticket and "/" not in agent_name else agent_name
    require_own(request, run_id, None, key)
    state = forum_of(request).control_state(run_id, key, attempt)
    return {"control": state.to_json()}
