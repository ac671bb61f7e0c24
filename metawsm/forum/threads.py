"""Domain rules: validation of thread commands against the caught-up index, and the envelopes they
append. Pure functions of (current thread row, request); the Forum runs them under the log lock."""

from __future__ import annotations

from typing import Any

from metawsm.errors import ForumError, NotFoundError, StateError, UsageError
from metawsm.forum import ids
from metawsm.forum import models as m
from metawsm.forum.bounds import MAX_AGENT_KEY, MAX_KEY, check_name, is_blank


def check_actor(actor_type: str, actor_name: str | None = None) -> str:
    kind = (actor_type or "").strip().lower()
    if kind not in m.ACTOR_TYPES:
        raise UsageError(f"actor type {actor_type!r} is not one of {', '.join(m.ACTOR_TYPES)}")
    return kind


def check_state(state: str) -> str:
    value = (state or "").strip().lower()
    if value not in m.STATES:
        raise UsageError(f"state {state!r} is not one of {', '.join(m.STATES)}")
    return value


def check_priority(priority: str | None) -> str:
    value = (priority or "normal").strip().lower()
    if value not in m.PRIORITY_RANK:
        raise UsageError(f"priority {priority!r} is not one of {', '.join(m.PRIORITIES)}")
    return value


def check_body(body: str, max_bytes: int, what: str = "body", *, required: bool = True) -> str:
    if not isinstance(body, str) or (required and is_blank(body)):
        raise UsageError(f"{what} is required")
    if "\x00" in body:  # SQLite's text and JSON functions stop at NUL: the index could not hold it
        raise UsageError(f"{what} contains a NUL character")
    size = len(body.encode("utf-8"))
    if size > max_bytes:
        raise ForumError(f"{what} is {size} bytes, larger than forum.max_body_bytes ({max_bytes})",
                         hint="shorten it, or raise forum.max_body_bytes in .metawsm/policy.yaml")
    return body


def require(thread: dict[str, Any] | None, thread_id: str) -> dict[str, Any]:
    if thread is None:
        raise NotFoundError(f"forum thread {thread_id!r} not found",
                            hint="list threads with `metawsm forum list`")
    return thread


def require_open(thread: dict[str, Any], doing: str) -> None:
    if thread["state"] == "closed":
        raise StateError(f"forum thread {thread['thread_id']!r} is closed; cannot {doing}",
                         hint="open a new thread with `metawsm forum ask`")


def check_transition(thread: dict[str, Any], to: str) -> None:
    frm = thread["state"]
    if frm != to and to not in m.TRANSITIONS[frm]:
        allowed = ", ".join(sorted(m.TRANSITIONS[frm])) or "none (closed is terminal)"
        raise StateError(f"forum thread {thread['thread_id']!r}: illegal transition {frm} -> {to}",
                         hint=f"from {frm} the allowed states are: {allowed}")


def envelope(event_type: str, thread: dict[str, Any], payload: dict[str, Any], *, actor_type: str,
             actor_name: str, correlation_id: str | None = None, causation_id: str | None = None,
             idempotency_key: str | None = None) -> dict[str, Any]:
    """A new event for `thread` (a row or a dict with thread_id/ticket/run_id/agent_name); every
    name in it is bounded here, before anything is written."""
    check_name(thread["ticket"], "ticket")
    check_name(thread.get("run_id"), "run_id", required=False)
    check_name(thread.get("agent_name"), "agent_name", max_len=MAX_AGENT_KEY, required=False)
    check_name(actor_name, "actor_name", max_len=MAX_AGENT_KEY)  # an agent acts under its key
    check_name(idempotency_key, "idempotency_key", max_len=MAX_KEY, required=False)
    event_id = ids.ulid()
    return {
        "sequence": 0,  # set by the log writer
        "event_id": event_id,
        "event_type": event_type,
        "event_version": 1,
        "occurred_at": ids.now(),
        "thread_id": thread["thread_id"],
        "ticket": thread["ticket"],
        "run_id": thread.get("run_id"),
        "agent_name": thread.get("agent_name"),
        "actor_type": actor_type,
        "actor_name": actor_name,
        "correlation_id": correlation_id or event_id,
        "causation_id": causation_id,
        "idempotency_key": idempotency_key,
        "payload": payload,
    }


def chain(first: dict[str, Any], event_type: str, thread: dict[str, Any], payload: dict[str, Any],
          **actor: str) -> dict[str, Any]:
    """A follow-up event of the same command: same correlation id, caused by `first`."""
    return envelope(event_type, thread, payload, correlation_id=first["correlation_id"],
                    causation_id=first["event_id"], **actor)


def docs_sync(first: dict[str, Any], thread: dict[str, Any], trigger: str, state: str, posts_added: int,
              at: str) -> dict[str, Any]:
    payload = {
        "trigger": trigger, "thread_id": thread["thread_id"], "title": thread["title"], "state": state,
        "priority": thread["priority"], "posts_count": thread["posts_count"] + posts_added,
        "updated_at": at, "assignee_type": thread.get("assignee_type") or "",
        "assignee_name": thread.get("assignee_name") or "",
    }
    return chain(first, m.DOCS_SYNC, thread, payload, actor_type="system", actor_name="metawsm")
