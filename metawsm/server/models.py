"""Request bodies (unknown fields refused) and response shapes of the API, for validation and for
`/openapi.json`. Responses reuse the core's frozen records (forum models, snapshot views) as they are,
so the JSON is exactly their `to_json()`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from metawsm.engine.snapshot import AgentView, EscalationView, GateView, QuestionView, StepView
from metawsm.engine.usageview import UsageView
from metawsm.forum.models import Post, Seen, StatRow, Thread
from metawsm.server import contract as c


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(Body):
    actor_type: c.ActorType = Field(description="agent, operator, human or system")
    actor_name: c.OptionalName | None = Field(None, description="the actor's name (default: the actor type)")
    correlation_id: c.OptionalName | None = Field(None, description="accepted for Go API compatibility; not stored")
    causation_id: c.OptionalName | None = Field(None, description="accepted for Go API compatibility; not stored")

    def who(self) -> dict[str, str]:
        return {"actor_type": self.actor_type, "actor_name": self.actor_name or self.actor_type}


class OpenThread(Actor):
    thread_id: c.ThreadId | None = Field(None, description="an id of your choice (default: generated)")
    ticket: c.Name
    run_id: c.OptionalName | None = None
    agent_name: c.OptionalName | None = None
    title: c.Text
    body: c.Text
    priority: c.Priority | None = "normal"
    idempotency_key: c.OptionalName | None = Field(None, description="a retry with the same key returns the first "
                                                                     "thread")


class AddPost(Actor):
    body: c.Text
    idempotency_key: c.OptionalName | None = None


class Answer(Actor):
    body: c.Text


class Assign(Actor):
    assignee_type: c.ActorType
    assignee_name: c.Name
    assignment_note: c.FreeText | None = ""


class ChangeState(Actor):
    to_state: c.State


class ChangePriority(Actor):
    priority: c.Priority


class Close(Actor):
    pass


class MarkSeen(Body):
    viewer_type: c.ViewerType
    viewer_id: c.Name
    last_seen_event_sequence: c.Sequence = Field(0, description="seen up to this event (0: the latest)")


class ControlSignal(Actor):
    run_id: c.Name
    ticket: c.Name
    agent_name: c.Name = Field(description="the agent (NAME or TICKET/NAME)")
    idempotency_key: c.OptionalName | None = None
    payload: dict[str, Any] = Field(description="a control payload v1 (schemas/control.json)",
                                    json_schema_extra=c.control_payload_schema())


class RestartBody(Body):
    agent: c.OptionalName | None = Field(None, description="only this agent: NAME or TICKET/NAME")
    reason: c.FreeText | None = None


# -- responses ---------------------------------------------------------------------------------
class EventEnvelope(BaseModel):
    """The Go metawsm's ForumEnvelope (plus idempotency_key)."""

    event_id: str
    event_type: str
    event_version: int
    occurred_at: str = Field(description="RFC 3339, UTC")
    thread_id: str
    run_id: str | None = None
    ticket: str
    agent_name: str | None = None
    actor_type: str
    actor_name: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    idempotency_key: str | None = None


class ApiEvent(BaseModel):
    """An event as the API, the stream and `--json` give it (the Go metawsm's ForumEvent)."""

    sequence: int
    envelope: EventEnvelope
    payload_json: str = Field(description="the event's payload, as a JSON text")


class ThreadOut(BaseModel):
    thread: Thread


class ThreadsOut(BaseModel):
    threads: list[Thread]


class ThreadDetailOut(BaseModel):
    thread: Thread
    posts: list[Post]
    events: list[ApiEvent]


class SeenOut(BaseModel):
    seen: Seen


class ControlStateOut(BaseModel):
    control: dict[str, Any] = Field(description="run_id, agent_name, attempt, pending_question, pending_thread_id, "
                                                "question_event_seq, completion {summary, sequence}, validation, "
                                                "last_answer {answer, sequence}")


class SignalOut(BaseModel):
    thread: Thread
    event: ApiEvent


class EventsOut(BaseModel):
    events: list[ApiEvent]
    next_cursor: int


class StatsOut(BaseModel):
    stats: list[StatRow]


class DebugOutbox(BaseModel):
    pending_count: int
    processing_count: int
    failed_count: int
    oldest_pending_at: str | None = None
    oldest_pending_age_seconds: int


class DebugTopic(BaseModel):
    topic: str
    stream: str
    handler_registered: bool
    subscribed: bool
    stream_exists: bool
    stream_length: int
    consumer_group_present: bool
    consumer_group_pending: int
    consumer_group_lag: int
    topic_error: str | None = None


class DebugBus(BaseModel):
    running: bool
    healthy: bool
    health_error: str | None = None
    stream_name: str
    consumer_group: str
    consumer_name: str
    handler_topics: list[str]
    subscription_topics: list[str]
    topics: list[DebugTopic]


class DebugControlThread(BaseModel):
    run_id: str
    agent_name: str
    ticket: str
    thread_id: str
    created_at: str | None = None
    updated_at: str | None = None


class DebugSnapshot(BaseModel):
    """The Go metawsm's ForumStreamDebugSnapshot, filled with this daemon's equivalents."""

    generated_at: str
    ticket: str | None = None
    run_id: str | None = None
    outbox: DebugOutbox
    outbox_messages: list[dict[str, Any]]
    events: list[ApiEvent]
    threads: list[Thread]
    control_threads: list[DebugControlThread]
    bus: DebugBus


class DebugOut(BaseModel):
    debug: DebugSnapshot


class GoGuidance(BaseModel):
    ThreadID: str
    AgentName: str
    WorkspaceName: str
    Question: str


class GoGuidanceLower(BaseModel):
    thread_id: str
    agent_name: str
    workspace_name: str
    question: str


class GoUnhealthyAgent(BaseModel):
    AgentName: str
    WorkspaceName: str
    SessionName: str
    Status: str
    Health: str
    LastActivity: str | None = None
    LastProgress: str | None = None
    ActivityAge: int = Field(description="nanoseconds (Go time.Duration)")
    ProgressAge: int = Field(description="nanoseconds (Go time.Duration)")


class GoRunFields(BaseModel):
    """The Go metawsm's RunSnapshot fields, added to every run (docs/api.md, "Go metawsm compatibility")."""

    RunID: str
    Status: str = Field(description="status in the Go vocabulary (complete -> completed)")
    Tickets: list[str]
    PendingGuidance: list[GoGuidance]
    pending_guidance: list[GoGuidanceLower]
    UnhealthyAgents: list[GoUnhealthyAgent]
    HasDirtyDiffs: bool
    DraftPullRequests: int = Field(description="always 0")
    OpenPullRequests: int = Field(description="always 0")
    QueuedReviewFeedback: int = Field(description="always 0")
    NewReviewFeedback: int = Field(description="always 0")


class RunSnapshotOut(GoRunFields):
    """A run snapshot (RunSnapshot.to_json()) with the Go metawsm's RunSnapshot fields."""

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
    usage: UsageView | None = Field(None, description="the run's AI agents' tokens and cost (as their CLIs "
                                    "reported them; cost_usd null when no CLI reported one)")
    ticket_usage: dict[str, UsageView] = Field(default_factory=dict, description="the same per ticket")


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

