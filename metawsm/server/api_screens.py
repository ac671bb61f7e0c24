"""`GET /api/v1/runs/{run_id}/agents/{ticket}/{agent}/screen` (an agent's live screen), `POST …/message` (type a
message into the agent's session; needs a daemon with a token), and the stream's screen subscriptions."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from metawsm.errors import MetawsmError, NotFoundError
from metawsm.server import models as m
from metawsm.server import screen_models as sm
from metawsm.server.api_runs import engine
from metawsm.server.errors import ApiError
from metawsm.server.screens import MAX_SUBSCRIPTIONS, Target, screen_json

router = APIRouter(prefix="/api/v1", tags=["runs"])
AGENT = "/runs/{run_id}/agents/{ticket}/{agent}"
NO_TOKEN = ("typing into an agent's session needs an authenticated user: start the daemon with a token "
            "(`metawsm serve --token-file FILE` or server.token_file) and sign in")


@router.get(AGENT + "/screen", response_model=sm.ScreenOut, responses=m.errors(404))
def get_screen(request: Request, run_id: str, ticket: str, agent: str) -> dict[str, Any]:
    """What the agent's session shows now: `text` (plain), `html` (escaped, colours as styled spans), the pane's
    size and cursor. 404 when the run or agent is unknown or its session is not running."""
    from metawsm.engine.screens import agent_screen, find_agent

    with engine(request) as eng:
        found = find_agent(eng, run_id, ticket, agent)
        return {"screen": {"run_id": run_id, "ticket": ticket, "agent": agent, "session": found.session,
                           **screen_json(agent_screen(eng, found))}}


@router.post(AGENT + "/message", response_model=sm.MessageOut, responses=m.errors(400, 404, 409))
def post_message(request: Request, run_id: str, ticket: str, agent: str, body: sm.MessageBody) -> dict[str, Any]:
    """Paste `text` into the agent's session (one bracketed paste, then Enter) and post it in the agent's control
    thread. Refused (403) unless the daemon has a token: on a daemon without one every local user could type into
    the sessions, which run commands with your rights."""
    from metawsm.engine.screens import find_agent, send_message

    if request.app.state.token is None:
        raise ApiError(403, "auth_required", NO_TOKEN)
    with engine(request) as eng:
        found = find_agent(eng, run_id, ticket, agent)
        sent = send_message(eng, found, body.text, actor_type=body.actor_type,
                            actor_name=body.actor_name or body.actor_type)
        return {"message": sent.to_json()}


def _resolve(app: Any, run_id: str, ticket: str, agent: str) -> str:
    from metawsm.engine.context import Engine
    from metawsm.engine.screens import find_agent

    eng = Engine.open(app.state.project, app.state.policy)
    try:
        return find_agent(eng, run_id, ticket, agent).session
    finally:
        eng.close()


async def screen_request(app: Any, sub: Any, data: dict[str, Any]) -> None:
    """A client's `screen.subscribe` / `screen.unsubscribe` on the stream; a bad one answers an `error` frame."""
    key = tuple(str(data.get(k) or "")[:200] for k in ("run_id", "ticket", "agent"))
    hub = app.state.screens
    if data["type"] == "screen.unsubscribe":
        session = sub.screens.pop(key, None)
        if session is not None:
            hub.unsubscribe(session, sub.queue)
        return
    if key in sub.screens:
        return
    if not all(key) or len(sub.screens) >= MAX_SUBSCRIPTIONS:
        message = ("screen.subscribe needs run_id, ticket and agent" if not all(key)
                   else f"at most {MAX_SUBSCRIPTIONS} screens at once")
        _error(sub, message)
        return
    try:
        session = await asyncio.to_thread(_resolve, app, *key)
    except MetawsmError as exc:
        _error(sub, exc.message if isinstance(exc, NotFoundError) else "cannot watch that screen")
        return
    sub.screens[key] = session
    hub.subscribe(Target(key[0], key[1], key[2], session), sub.queue)


def _error(sub: Any, message: str) -> None:
    import contextlib

    with contextlib.suppress(asyncio.QueueFull):
        sub.queue.put_nowait([{"type": "error", "message": message}])
