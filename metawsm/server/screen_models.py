"""Shapes of the live-screen routes (`…/agents/{ticket}/{agent}/screen` and `…/message`) and of the stream's
screen frames, for validation and for `/openapi.json`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from metawsm.server import contract as c
from metawsm.server.models import Body


class MessageBody(Body):
    text: c.MessageText = Field(description="typed into the agent's session as one bracketed paste, then Enter")
    actor_type: Literal["human", "operator"] = Field("human", description="who sends it (shown in the thread)")
    actor_name: c.OptionalName | None = Field(None, description="the sender's name (default: the actor type)")


class MessageSent(BaseModel):
    agent: str = Field(description="TICKET/name")
    session: str
    thread_id: str = Field(description="the agent's control thread, where the message was posted")
    attempt: int


class MessageOut(BaseModel):
    message: MessageSent


class Screen(BaseModel):
    """An agent's screen: its visible rows (no scrollback)."""

    run_id: str
    ticket: str
    agent: str
    session: str
    alive: bool = Field(description="false when the session is not running (then text and html are empty)")
    text: str = Field(description="the rows as plain text (escape sequences removed)")
    html: str = Field(description="the rows as HTML: every character escaped, colours as <span style> elements")
    width: int
    height: int
    cursor_x: int
    cursor_y: int
    captured_at: str


class ScreenOut(BaseModel):
    screen: Screen


class AgentScreenFrame(BaseModel):
    """A stream frame (WS /api/v1/forum/stream) while the client watches an agent's screen: sent when the screen
    changed, at most every 0.5 s. The client subscribes with {"type": "screen.subscribe", "run_id", "ticket",
    "agent"} and stops with {"type": "screen.unsubscribe", …}; an `error` frame {message} refuses a bad request."""

    type: Literal["agent.screen"]
    run_id: str
    ticket: str
    agent: str
    screen: dict[str, Any] = Field(description="the Screen fields but run_id, ticket, agent and session")
    sent_at: str


class ScreenSubscribe(BaseModel):
    """A client message on the stream: start (screen.subscribe) or stop (screen.unsubscribe) watching a screen."""

    type: Literal["screen.subscribe", "screen.unsubscribe"]
    run_id: str
    ticket: str
    agent: str


def document_stream(app: Any) -> None:
    """Add the stream's screen messages to `/openapi.json` (OpenAPI has no WebSocket operations): the schemas
    under components and an `x-websocket` entry naming what the client sends and what it receives."""
    inner = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema and "x-websocket" in app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema = inner()
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (AgentScreenFrame, ScreenSubscribe):
            comps[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema["x-websocket"] = {"/api/v1/forum/stream": {
            "client_messages": [{"$ref": "#/components/schemas/ScreenSubscribe"}],
            "frames": [{"$ref": "#/components/schemas/AgentScreenFrame"}]}}
        app.openapi_schema = schema
        return schema  # type: ignore[no-any-return]

    app.openapi = openapi
