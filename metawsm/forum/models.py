"""Forum vocabulary (states, priorities, actors, event types) and the frozen records it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

STATES = ("new", "triaged", "waiting_operator", "waiting_human", "answered", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")  # list order: urgent first
PRIORITY_RANK = {"urgent": 1, "high": 2, "normal": 3, "low": 4}
ACTOR_TYPES = ("agent", "operator", "human", "system")
VIEWER_TYPES = ("human", "agent", "operator")
QUEUES = ("unseen", "unanswered")

# Allowed moves (DESIGN §6); a self-transition is always allowed; closed is terminal.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged", "waiting_operator", "waiting_human", "answered", "closed"}),
    "triaged": frozenset({"waiting_operator", "waiting_human", "answered", "closed"}),
    "waiting_operator": frozenset({"waiting_human", "answered", "triaged", "closed"}),
    "waiting_human": frozenset({"waiting_operator", "answered", "triaged", "closed"}),
    "answered": frozenset({"waiting_operator", "waiting_human", "closed"}),
    "closed": frozenset(),
}

OPENED = "forum.thread.opened"
POSTED = "forum.post.added"
CONTROL = "forum.control.signal"
ASSIGNED = "forum.assigned"
STATE_CHANGED = "forum.state.changed"
PRIORITY_CHANGED = "forum.priority.changed"
CLOSED = "forum.thread.closed"
DOCS_SYNC = "forum.integration.docs_sync.requested"
SEEN = "forum.thread.seen"  # legacy: read marks were events before 0.x; now rows in reads.db (see reads.py)
EVENT_TYPES = (OPENED, POSTED, CONTROL, ASSIGNED, STATE_CHANGED, PRIORITY_CHANGED, CLOSED, DOCS_SYNC)

# The API's `envelope` object: the Go metawsm's ForumEnvelope fields, then ours.
GO_ENVELOPE_FIELDS = (
    "event_id", "event_type", "event_version", "occurred_at", "thread_id", "run_id", "ticket",
    "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id", "idempotency_key",
)

ENVELOPE_FIELDS = (
    "sequence", "event_id", "event_type", "event_version", "occurred_at", "thread_id", "ticket",
    "run_id", "agent_name", "actor_type", "actor_name", "correlation_id", "causation_id",
    "idempotency_key", "payload",
)


class _Json:
    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class Event(_Json):
    """One event of the log, as the index stores it (the envelope's fields and the payload)."""

    sequence: int
    event_id: str
    event_type: str
    event_version: int
    occurred_at: str
    thread_id: str
    ticket: str
    run_id: str | None
    agent_name: str | None
    actor_type: str
    actor_name: str
    correlation_id: str
    causation_id: str | None
    idempotency_key: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The API / `--json` shape, the Go metawsm's `ForumEvent`: `{sequence, envelope:{…},
        payload_json}` with the payload as a JSON string. The log keeps the flat line (DESIGN §6):
        `envelope` holds every log field but `sequence` and `payload` (plus `idempotency_key`, which
        Go clients ignore); `payload_json` is the log's `payload`, serialised."""
        return {"sequence": self.sequence,
                "envelope": {k: getattr(self, k) for k in GO_ENVELOPE_FIELDS},
                "payload_json": orjson.dumps(self.payload).decode()}

    def to_log(self) -> dict[str, Any]:
        """The flat log line's fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """From a flat log line or from the API shape (`envelope` + `payload_json`)."""
        env = data.get("envelope")
        if isinstance(env, dict):
            raw = data.get("payload_json")
            payload = orjson.loads(raw) if isinstance(raw, str | bytes) and raw else data.get("payload") or {}
            fields: dict[str, Any] = {k: env.get(k) for k in ENVELOPE_FIELDS if k not in ("sequence", "payload")}
            fields["sequence"] = data.get("sequence", env.get("sequence"))
            return cls(**fields, payload=payload)
        return cls(**{k: data.get(k) for k in ENVELOPE_FIELDS})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Thread(_Json):
    """ThreadView: the API shape of a thread (reference §8.2)."""

    thread_id: str
    ticket: str
    run_id: str | None
    agent_name: str | None
    title: str
    state: str
    priority: str
    assignee_type: str | None
    assignee_name: str | None
    opened_by_type: str
    opened_by_name: str
    posts_count: int
    last_post_at: str | None
    last_post_by_type: str | None
    last_post_by_name: str | None
    last_event_sequence: int
    last_actor_type: str | None
    is_unseen: bool
    is_unanswered: bool
    opened_at: str
    updated_at: str
    closed_at: str | None


@dataclass(frozen=True)
class Post(_Json):
    """One post of a thread (an event the projector marked as a post)."""

    post_id: str
    thread_id: str
    event_id: str
    author_type: str
    author_name: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Seen(_Json):
    """How far one viewer has read one thread."""

    thread_id: str
    viewer_type: str
    viewer_id: str
    last_seen_event_sequence: int
    updated_at: str


@dataclass(frozen=True)
class StatRow(_Json):
    """One group of `forum stats`: threads per ticket, run, state and priority."""

    ticket: str
    run_id: str | None
    state: str
    priority: str
    thread_count: int
    updated_at: str = ""  # the latest updated_at of the group's threads (RFC 3339)


@dataclass(frozen=True)
class Escalation(_Json):
    """A thread that needs a person, and why."""

    thread: Thread
    reason: str  # "priority" or "sla"
    waiting_minutes: float

    def to_json(self) -> dict[str, Any]:
        return {"thread": self.thread.to_json(), "reason": self.reason,
                "waiting_minutes": round(self.waiting_minutes, 1)}


@dataclass(frozen=True)
class ControlState(_Json):
    """The reduced control state of one (run, agent, attempt); older attempts never count."""

    run_id: str
    agent_name: str
    attempt: int
    pending_question: str | None = None
    pending_thread_id: str | None = None
    question_event_seq: int | None = None
    completion: tuple[str, int] | None = None  # (summary, sequence)
    validation: dict[str, Any] | None = None  # {status, done_criteria, sha, sequence}
    review: dict[str, Any] | None = None  # a reviewer's latest verdict: {status, note, sha, sequence}
    last_answer: tuple[str, int] | None = None  # (answer, sequence) of the latest guidance_answer

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["completion"] = (
            {"summary": self.completion[0], "sequence": self.completion[1]} if self.completion else None
        )
        data["last_answer"] = (
            {"answer": self.last_answer[0], "sequence": self.last_answer[1]} if self.last_answer else None
        )
        return data
