from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from jsonschema import Draft202012Validator

from metawsm.forum import Forum, control, control_thread_id
from metawsm.forum.control import ControlPayloadError

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "control.json").read_text(encoding="utf-8"))
BASE = {"schema_version": 1, "run_id": "r1", "agent_name": "a1", "attempt": 1}


class Case(NamedTuple):
    name: str
    payload: Any
    bad_field: str | None  # None: valid


CASES = [
    Case("request", {**BASE, "control_type": "guidance_request", "question": "q?"}, None),
    Case("request_ctx", {**BASE, "control_type": "guidance_request", "question": "q", "context": ""}, None),
    Case("request_no_q", {**BASE, "control_type": "guidance_request"}, "question"),
    Case("request_blank_q", {**BASE, "control_type": "guidance_request", "question": "  "}, "question"),
    Case("answer", {**BASE, "control_type": "guidance_answer", "answer": "a"}, None),
    Case("answer_missing", {**BASE, "control_type": "guidance_answer"}, "answer"),
    Case("completion", {**BASE, "control_type": "completion"}, None),
    Case("completion_summary", {**BASE, "control_type": "completion", "summary": "done"}, None),
    Case("completion_bad_summary", {**BASE, "control_type": "completion", "summary": 3}, "summary"),
    Case("validation", {**BASE, "control_type": "validation", "status": "passed", "done_criteria": "tests",
                        "sha": "abc1234"}, None),
    Case("validation_tail", {**BASE, "control_type": "validation", "status": "failed", "done_criteria": "t",
                             "sha": "a" * 40, "output_tail": "boom"}, None),
    Case("validation_status", {**BASE, "control_type": "validation", "status": "ok", "done_criteria": "t",
                               "sha": "abc1234"}, "status"),
    Case("validation_upper", {**BASE, "control_type": "validation", "status": "PASSED", "done_criteria": "t",
                              "sha": "abc1234"}, "status"),
    Case("validation_no_sha", {**BASE, "control_type": "validation", "status": "passed",
                               "done_criteria": "t"}, "sha"),
    Case("validation_bad_sha", {**BASE, "control_type": "validation", "status": "passed",
                                "done_criteria": "t", "sha": "xyz"}, "sha"),
    Case("validation_no_criteria", {**BASE, "control_type": "validation", "status": "passed",
                                    "sha": "abc1234"}, "done_criteria"),
    Case("review", {**BASE, "control_type": "review", "status": "approved", "sha": "abc1234"}, None),
    Case("review_note", {**BASE, "control_type": "review", "status": "changes_requested", "sha": "a" * 40,
                         "note": "rename foo"}, None),
    Case("review_status", {**BASE, "control_type": "review", "status": "passed", "sha": "abc1234"}, "status"),
    Case("review_no_sha", {**BASE, "control_type": "review", "status": "approved"}, "sha"),
    Case("review_bad_note", {**BASE, "control_type": "review", "status": "approved", "sha": "abc1234",
                             "note": 1}, "note"),
    Case("review_extra", {**BASE, "control_type": "review", "status": "approved", "sha": "abc1234",
                          "done_criteria": "t"}, "done_criteria"),
    Case("validation_verdict", {**BASE, "control_type": "validation", "status": "approved", "done_criteria": "t",
                                "sha": "abc1234"}, "status"),
    Case("version", {**BASE, "schema_version": 2, "control_type": "completion"}, "schema_version"),
    Case("version_missing", {"run_id": "r1", "agent_name": "a1", "attempt": 1, "control_type": "completion"},
         "schema_version"),
    Case("type", {**BASE, "control_type": "restart"}, "control_type"),
    Case("run", {**BASE, "run_id": "", "control_type": "completion"}, "run_id"),
    Case("agent", {**BASE, "agent_name": None, "control_type": "completion"}, "agent_name"),
    Case("attempt0", {**BASE, "attempt": 0, "control_type": "completion"}, "attempt"),
    Case("attempt_str", {**BASE, "attempt": "1", "control_type": "completion"}, "attempt"),
    Case("attempt_bool", {**BASE, "attempt": True, "control_type": "completion"}, "attempt"),
    Case("extra", {**BASE, "control_type": "completion", "question": "q"}, "question"),
    Case("not_object", ["completion"], "(payload)"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hand_validation_agrees_with_schema(case: Case) -> None:
    schema_ok = Draft202012Validator(SCHEMA).is_valid(case.payload)
    if case.bad_field is None:
        control.validate(case.payload)
        assert schema_ok
    else:
        with pytest.raises(ControlPayloadError) as err:
            control.validate(case.payload)
        assert err.value.field == case.bad_field and err.value.exit_code == 2
        assert case.bad_field in str(err.value)
        assert not schema_ok


def test_schema_is_draft_2020_12_with_id() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"].endswith("/control.json") and SCHEMA["description"]


@pytest.mark.parametrize(("run", "agent", "expected"), [
    ("run-20240101-120000", "Agent_1", "fctrl-run-20240101-120000-agent-1"),
    ("--R1--", "a.b", "fctrl-r1-a-b"),
    ("", "!!", "fctrl-unknown-unknown"),
])
def test_control_thread_id(run: str, agent: str, expected: str) -> None:
    assert control_thread_id(run, agent) == expected == Forum.control_thread_id(run, agent)


def test_control_state_is_per_attempt_and_ordered_by_sequence(forum: Forum) -> None:
    s = forum.signal
    s("r1", "ABC-1", "a1", 1, "completion", summary="first try")
    s("r1", "ABC-1", "a1", 1, "validation", status="passed", done_criteria="tests", sha="abc1234")
    q = s("r1", "ABC-1", "a1", 2, "guidance_request", question="which db?")
    assert q.actor_type == "agent" and q.actor_name == "a1"
    one = forum.control_state("r1", "a1", 1)
    assert one.completion == ("first try", 1 + 1) and one.validation["sha"] == "abc1234"
    assert one.pending_question is None
    two = forum.control_state("r1", "a1", 2)
    assert two.completion is None and two.validation is None
    assert two.pending_question == "which db?" and two.pending_thread_id == "fctrl-r1-a1"
    assert two.question_event_seq == q.sequence
    # many signals within the same instant: the order of the log decides
    for i in range(5):
        s("r1", "ABC-1", "a1", 2, "validation", status="failed" if i < 4 else "passed", done_criteria="t",
          sha=f"{i:07d}")
    assert forum.control_state("r1", "a1", 2).validation["sha"] == "0000004"
    assert forum.control_state("r1", "a1", 3).completion is None


def test_answer_on_control_thread_records_guidance_answer_for_current_attempt(forum: Forum) -> None:
    forum.signal("r1", "ABC-1", "a1", 1, "guidance_request", question="old")
    q = forum.signal("r1", "ABC-1", "a1", 2, "guidance_request", question="new")
    tid = control_thread_id("r1", "a1")
    assert forum.get_thread(tid)[0].state == "waiting_human"
    assert [t.thread_id for t in forum.queue("unanswered")] == [tid]
    t = forum.answer(tid, "use sqlite", actor_type="human", actor_name="alice")
    assert t.state == "answered"
    state = forum.control_state("r1", "a1", 2)
    assert state.pending_question is None and state.last_answer[0] == "use sqlite"
    assert state.last_answer[1] > q.sequence
    assert forum.control_state("r1", "a1", 1).pending_question == "old"  # older attempt untouched
    assert forum.wait_for_answer("r1", "a1", 2, q.sequence, timeout=0) == state.last_answer
    # a new question reopens the wait
    forum.signal("r1", "ABC-1", "a1", 2, "guidance_request", question="again")
    assert forum.get_thread(tid)[0].state == "waiting_human"


def test_signal_idempotency_and_bad_payload(forum: Forum) -> None:
    e1 = forum.signal("r1", "ABC-1", "a1", 1, "completion", idempotency_key="done-1")
    e2 = forum.signal("r1", "ABC-1", "a1", 1, "completion", idempotency_key="done-1")
    assert e1 == e2 and forum.events()[1] == 2
    with pytest.raises(ControlPayloadError, match="status"):
        forum.signal("r1", "ABC-1", "a1", 1, "validation", status="meh", done_criteria="x", sha="abc1234")
    with pytest.raises(ControlPayloadError, match="question"):
        forum.signal("r1", "ABC-1", "a1", 1, "guidance_request")


def test_only_questions_leave_a_control_thread_unanswered(forum: Forum) -> None:
    forum.signal("r1", "T-1", "T-1/a", 1, "completion", summary="done")
    forum.signal("r1", "T-1", "T-1/a", 1, "validation", status="passed", done_criteria="x", sha="ab" * 20)
    assert forum.queue("unanswered") == []
    forum.signal("r1", "T-1", "T-1/a", 1, "guidance_request", question="Which DB?")
    (waiting,) = forum.queue("unanswered")
    assert waiting.thread_id == forum.control_thread_id("r1", "T-1/a")
