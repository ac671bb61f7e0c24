"""Control signals (payload v1): hand-written validation that agrees with `schemas/control.json`
(kept import-light: `metawsm signal` runs inside agents and must start fast), and the reducer that
turns the signals of one (run, agent, attempt) into its control state."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from metawsm.errors import UsageError
from metawsm.forum.bounds import MAX_AGENT_KEY, MAX_ATTEMPT, MAX_NAME, BoundsError, check_name, is_blank
from metawsm.forum.models import ControlState

SCHEMA_VERSION = 1
CONTROL_TYPES = ("guidance_request", "guidance_answer", "completion", "validation", "review")
REQUIRED: dict[str, tuple[str, ...]] = {
    "guidance_request": ("question",),
    "guidance_answer": ("answer",),
    "completion": (),
    "validation": ("status", "done_criteria", "sha"),
    "review": ("status", "sha"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "guidance_request": ("context",),
    "guidance_answer": (),
    "completion": ("summary",),
    "validation": ("output_tail",),
    "review": ("note",),
}
COMMON = ("schema_version", "control_type", "run_id", "agent_name", "attempt")
STATUSES = ("passed", "failed")
REVIEW_STATUSES = ("approved", "changes_requested")  # a reviewer's verdict
VERDICTS = {"approved": "approved", "approve": "approved", "changes_requested": "changes_requested",
            "changes-requested": "changes_requested", "request-changes": "changes_requested",
            "request_changes": "changes_requested"}  # what `signal review --status` and the MCP tool accept
SHA = re.compile(r"[0-9a-f]{7,64}")  # fullmatch: no trailing newline


class ControlPayloadError(UsageError):
    code = "invalid_control_payload"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid control payload: {field}: {problem}")
        self.field = field


def validate(payload: Any) -> dict[str, Any]:
    """Check a control payload; raise ControlPayloadError naming the first bad field."""
    if not isinstance(payload, dict):
        raise ControlPayloadError("(payload)", "must be an object")
    if payload.get("schema_version") != SCHEMA_VERSION or isinstance(payload.get("schema_version"), bool):
        raise ControlPayloadError("schema_version", f"must be {SCHEMA_VERSION}")
    ctype = payload.get("control_type")
    if ctype not in CONTROL_TYPES:
        raise ControlPayloadError("control_type", f"must be one of {', '.join(CONTROL_TYPES)}, not {ctype!r}")
    for name in ("run_id", "agent_name"):
        _text(payload, name)
    attempt = payload.get("attempt")
    if type(attempt) is float and attempt.is_integer() and 1 <= attempt <= MAX_ATTEMPT:
        attempt = payload["attempt"] = int(attempt)  # JSON Schema: 3.0 is the integer 3
    if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPT:
        raise ControlPayloadError("attempt", f"must be an integer from 1 to {MAX_ATTEMPT}")
    for name in REQUIRED[ctype]:
        _text(payload, name)
    for name in OPTIONAL[ctype]:
        if name in payload and not isinstance(payload[name], str):
            raise ControlPayloadError(name, "must be a string")
    allowed = set(COMMON) | set(REQUIRED[ctype]) | set(OPTIONAL[ctype])
    for name in payload:
        if name not in allowed:
            raise ControlPayloadError(name, f"is not a field of a {ctype} signal")
    if ctype == "validation" and payload["status"] not in STATUSES:
        raise ControlPayloadError("status", "must be 'passed' or 'failed'")
    if ctype == "review" and payload["status"] not in REVIEW_STATUSES:
        raise ControlPayloadError("status", "must be 'approved' or 'changes_requested'")
    if ctype in ("validation", "review") and not SHA.fullmatch(payload["sha"]):
        raise ControlPayloadError("sha", "must be a lower-case hex git sha (7 to 64 characters)")
    return payload


def _text(payload: dict[str, Any], name: str) -> None:
    value = payload.get(name)
    if not isinstance(value, str) or is_blank(value):
        raise ControlPayloadError(name, "is required (a non-empty string)")
    if name in ("run_id", "agent_name"):
        try:
            check_name(value, name, max_len=MAX_AGENT_KEY if name == "agent_name" else MAX_NAME)
        except BoundsError as exc:
            raise ControlPayloadError(name, exc.message.partition(": ")[2]) from None


def build(control_type: str, run_id: str, agent_name: str, attempt: int, **fields: Any) -> dict[str, Any]:
    """A validated payload; fields given as None are left out."""
    payload: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "control_type": control_type,
                               "run_id": run_id, "agent_name": agent_name, "attempt": attempt}
    payload.update({k: v for k, v in fields.items() if v is not None})
    return validate(payload)


def reduce(run_id: str, agent_name: str, attempt: int,
           rows: Iterable[tuple[int, str, str, str]]) -> ControlState:
    """Fold (sequence, control_type, payload_json, thread_id) rows of ONE attempt, in sequence order."""
    pending: tuple[str, str, int] | None = None
    completion: tuple[str, int] | None = None
    validation: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    answer: tuple[str, int] | None = None
    for seq, ctype, raw, thread_id in rows:
        p = orjson.loads(raw)
        if ctype == "guidance_request":
            pending = (p.get("question", ""), thread_id, seq)
        elif ctype == "guidance_answer":
            pending, answer = None, (p.get("answer", ""), seq)
        elif ctype == "completion":
            completion = (p.get("summary", ""), seq)
        elif ctype == "validation":
            validation = {"status": p.get("status"), "done_criteria": p.get("done_criteria"),
                          "sha": p.get("sha"), "sequence": seq}
        elif ctype == "review":  # a reviewer's verdict also completes its attempt (its work is the review)
            review = {"status": p.get("status"), "note": p.get("note", ""), "sha": p.get("sha"), "sequence": seq}
            completion = completion or (f"review: {review['status']}", seq)
    return ControlState(
        run_id=run_id, agent_name=agent_name, attempt=attempt,
        pending_question=pending[0] if pending else None,
        pending_thread_id=pending[1] if pending else None,
        question_event_seq=pending[2] if pending else None,
        completion=completion, validation=validation, review=review, last_answer=answer,
    )
