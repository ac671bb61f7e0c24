"""Request bodies (unknown fields refused) and response shapes of the API, for validation and for
`/openapi.json`. Responses reuse the core's frozen records (forum models, snapshot views) as they are,
so the JSON is exactly their `to_json()`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from metawsm.engine.snapshot import AgentView, EscalationView, GateView, QuestionView, StepView
from metawsm.forum.models import Event, Post, Seen, StatRow, Thread


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(Body):
    actor_type: str = Field(description="agent, operator, human or system")
    actor_name: str | None = Field(None, description="the actor's name (default: the actor type)")
    correlation_id: str | None = Field(None, description="accepted for Go API compatibility; not stored")
    causation_id: str | None = Field(None, description="accepted for Go API compatibility; not stored")

    def who(self) -> dict[str, str]:
        return {"actor_type": self.actor_type, "actor_name": self.actor_name or self.actor_type}


class OpenThread(Actor):
    thread_id: str | None = None
    ticket: str
    run_id: str | None = None
    agent_name: str | None = None
    title: str
    body: str
    priority: str | None = "normal"
    idempotency_key: str | None = Field(None, description="a retry with the same key returns the first thread")


class AddPost(Actor):
    body: str
    idempotency_key: str | None = None


class Answer(Actor):
    body: str


class Assign(Actor):
    assignee_type: str
    assignee_name: str
    assignment_note: str | None = ""


class ChangeState(Actor):
    to_state: str


class ChangePriority(Actor):
    priority: str


class Close(Actor):
    pass


class MarkSeen(Body):
    viewer_type: str
    viewer_id: str
    last_seen_event_sequence: int = Field(0, description="seen up to this event (<= 0: the latest)")


class ControlSignal(Actor):
    run_id: str
    ticket: str
    agent_name: str = Field(description="the agent (NAME or TICKET/NAME)")
    idempotency_key: str | None = None
    payload: dict[str, Any] = Field(description="a control payload v1 (schemas/control.json)")


class RestartBody(Body):
    agent: str | None = Field(None, description="only this agent: NAME or TICKET/NAME")
    reason: str | None = None


# -- responses ---------------------------------------------------------------------------------
class ThreadOut(BaseModel):
    thread: Thread


class ThreadsOut(BaseModel):
    threads: list[Thread]


class ThreadDetailOut(BaseModel):
    thread: Thread
    posts: list[Post]
    events: list[Event]


class SeenOut(BaseModel):
    seen: Seen


class SignalOut(BaseModel):
    thread: Thread
    event: Event


class EventsOut(BaseModel):
    events: list[Event]
    next_cursor: int


class StatsOut(BaseModel):
    stats: list[StatRow]


class RunSnapshotOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    run_id: str
    plan_name: str
    status: str
    active: bool
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    last_error: str | None = None
    tickets: list[str]
    step_counts: dict[str, int]
    steps: list[StepView]
    agents: list[AgentView]
    unhealthy_agents: list[str]
    questions: list[QuestionView]
    escalations: list[EscalationView]
    gates: list[GateView]


class RunsOut(BaseModel):
    runs: list[RunSnapshotOut]


class RunOut(BaseModel):
    run: RunSnapshotOut


class ActionOut(BaseModel):
    run_id: str
    status: str
    actions: list[str]


class ActionResultOut(BaseModel):
    result: ActionOut
    run: RunSnapshotOut


class CheckOut(BaseModel):
    name: str
    passed: bool
    reason: str
    details: list[str]
    fix: str | None = None


class GateOut(BaseModel):
    run_id: str
    ticket: str
    sha: str | None = None
    passed: bool
    checks: list[CheckOut]


class GatesOut(BaseModel):
    gates: list[GateOut]
    passed: bool


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting error statuses with the error shape."""
    return {s: {"model": ErrorOut} for s in statuses}
