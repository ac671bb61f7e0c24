"""The LLM adviser with a fake command: assist posts advice and acts on nothing; auto answers a pending
question (the blocked `metawsm ask` in the agent receives it), restarts or holds back within the same
limits; a command that hangs, prints garbage, exits 1 or names an unknown intent leaves the rules in charge."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from metawsm.operator import Operator
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.operator._helpers import configure, fake_llm, kill, llm_block, only, situations, tick

ASKER = 'metawsm ask "Which DB?" --timeout 60 > ../answer.txt && metawsm signal completion --summary chosen; sleep 300'
ANSWER = json.dumps({"intent": "answer", "answer": "Postgres", "reason": "the repo already uses it",
                     "confidence": 0.9})


def _asking(eng, run_id: str, agent: str = "asker") -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: eng.forum.control_state(run_id, f"DEMO-1/{agent}", 1).pending_question, 20, "the question")


def test_assist_posts_advice_and_acts_on_nothing(project: Path, cli, tmux_socket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    llm_dir, command = fake_llm(tmp_path / "llm", ANSWER)
    configure(project, tmux_socket, confirmations=1, llm=llm_block(command, "assist"))
    run_id = start(cli, project, agents_plan(project, "ll", {"asker": ASKER, "w": "sleep 300"}))
    eng = engine(project)
    _asking(eng, run_id)
    d = only(tick(project), source="llm", intent="answer", executed=False, agent="asker")
    assert d.detail["note_posted"] and d.detail["thread_id"] == eng.forum.control_thread_id(run_id, "DEMO-1/asker")
    _, posts, _ = eng.forum.get_thread(eng.forum.control_thread_id(run_id, "DEMO-1/asker"))
    (advice,) = [p for p in posts if p.author_type == "operator"]
    assert advice.body.startswith("Operator adviser (assist mode) recommends: answer — the repo already uses it")
    assert "Proposed answer: Postgres" in advice.body and "Nothing was done on this advice." in advice.body
    assert eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question == "Which DB?"  # not answered
    assert tick(project) == []  # one consultation per question
    (seen,) = situations(llm_dir)
    assert (seen["run_id"], seen["agent_key"], seen["attempt"], seen["mode"]) == (run_id, "DEMO-1/asker", 1, "assist")
    assert seen["pending_question"]["question"] == "Which DB?"
    assert seen["rule_decision"]["intent"] == "wait" and seen["attempts_left"] == 2
    assert isinstance(seen["pane_tail"], list) and seen["health"]["status"] in ("running", "idle")
    assert (seen["env_model"], seen["env_max_tokens"]) == ("fake-1", "123")
    # a rule that fires: the rules restart, the adviser only comments
    kill(tmux_socket, "ll-DEMO-1-w")
    rules, advised = sorted(tick(project), key=lambda x: x.source, reverse=True)
    assert (rules.source, rules.intent, rules.executed) == ("rules", "restart", True)
    assert (advised.source, advised.executed, advised.agent) == ("llm", False, "w")
    assert situations(llm_dir)[-1]["rule_decision"]["intent"] == "restart"


def test_auto_answers_a_pending_question_and_ask_receives_it(project: Path, cli, tmux_socket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    llm_dir, command = fake_llm(tmp_path / "llm", ANSWER.replace("0.9", "0.5"))
    configure(project, tmux_socket, llm=llm_block(command, "auto"))
    run_id = start(cli, project, agents_plan(project, "ll", {"asker": ASKER}))
    eng = engine(project)
    _asking(eng, run_id)
    d = only(tick(project), source="llm", intent="answer", executed=False)
    assert "refused: confidence 0.50 below operator.llm.min_confidence 0.70" in d.reason
    assert eng.forum.control_state(run_id, "DEMO-1/asker", 1).pending_question == "Which DB?"
    # past the SLA the rule fires (escalate) and the adviser is asked again; now it is sure: it answers,
    # and nothing is left to escalate
    (llm_dir / "behaviour.txt").write_text(ANSWER)
    eng.clock = lambda: time.time() + 31 * 60
    d = only(Operator(eng).tick(), source="llm", intent="answer", executed=True)
    assert d.detail["answer"] == "Postgres" and "rules: escalate" in d.reason
    answer = project / ".metawsm" / "workspaces" / "answer.txt"
    wait_for(lambda: answer.exists() and answer.read_text().strip() == "Postgres", 20, "ask to get the answer")
    state = eng.forum.control_state(run_id, "DEMO-1/asker", 1)
    assert state.pending_question is None and state.last_answer is not None
    _, _, events = eng.forum.get_thread(eng.forum.control_thread_id(run_id, "DEMO-1/asker"))
    assert any(e.event_type == "forum.control.signal" and e.actor_type == "operator"
               and e.payload["control_type"] == "guidance_answer" for e in events)
    assert [t for t in eng.forum.list_threads(run_id=run_id) if not t.thread_id.startswith("fctrl-")] == []
    eng.clock = time.time
    wait_for(lambda: eng.forum.control_state(run_id, "DEMO-1/asker", 1).completion, 20, "the agent to complete")
    assert tick(project) == []
    assert eng.store.get_step(run_id, "agent:DEMO-1:asker").status == "done"


def test_guidance_past_the_sla_is_escalated_once(project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    configure(project, tmux_socket)
    run_id = start(cli, project, agents_plan(project, "ll", {"asker": ASKER}))
    eng = engine(project)
    _asking(eng, run_id)
    assert Operator(eng).tick() == []  # within the SLA: nothing
    eng.clock = lambda: time.time() + 31 * 60
    d = only(Operator(eng).tick(), intent="escalate", kind="guidance", executed=True)
    assert "question unanswered for 31 min (SLA 30 min): Which DB?" in d.reason
    thread, posts, _ = eng.forum.get_thread(d.detail["thread_id"])
    assert (thread.priority, thread.state, thread.assignee_name) == ("high", "waiting_human", "operator")
    assert thread.title == "DEMO-1/asker waits for an answer: Which DB?"
    assert f"metawsm forum answer {eng.forum.control_thread_id(run_id, 'DEMO-1/asker')}" in posts[0].body
    assert Operator(eng).tick() == []  # once per question
    assert "operator escalation (guidance)" in (project / "tickets" / "DEMO-1.changelog.md").read_text()


def test_auto_holds_restarts_back_and_stays_inside_the_budget(project: Path, cli, tmux_socket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    llm_dir, command = fake_llm(tmp_path / "llm", json.dumps({"intent": "wait", "reason": "it may recover"}))
    configure(project, tmux_socket, confirmations=1, budget=1, llm=llm_block(command, "auto"))
    run_id = start(cli, project, agents_plan(project, "ll", {"w": "sleep 300"}))
    eng = engine(project)
    kill(tmux_socket, "ll-DEMO-1-w")
    only(tick(project), source="llm", intent="wait", executed=False)
    assert eng.store.get_agent(run_id, "DEMO-1", "w").attempt == 1
    (llm_dir / "behaviour.txt").write_text(json.dumps({"intent": "restart", "reason": "dead", "confidence": 1}))
    d = only(tick(project), source="llm", intent="restart", executed=True)
    assert d.detail["new_attempt"] == 2
    kill(tmux_socket, "ll-DEMO-1-w")
    refused, esc = tick(project)
    assert (refused.source, refused.intent, refused.executed) == ("llm", "restart", False)
    assert "refused: restart budget exhausted (1/1)" in refused.reason
    assert (esc.source, esc.intent, esc.kind, esc.executed) == ("rules", "escalate", "budget", True)
    assert eng.store.get_agent(run_id, "DEMO-1", "w").attempt == 2


@pytest.mark.parametrize("behaviour", ["hang", "garbage", "exit1", "unknown"])
def test_a_failing_llm_leaves_the_rules_in_charge(behaviour: str, project: Path, cli, tmux_socket: str,  # type: ignore[no-untyped-def]  # noqa: F811
                                                  tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    llm_dir, command = fake_llm(tmp_path / "llm", behaviour)
    # only the hanging command meets the 1 s limit: the others answer at once, which on a loaded machine can
    # still take longer than a second to start Python
    configure(project, tmux_socket, confirmations=1,
              llm=llm_block(command, "auto", timeout=1 if behaviour == "hang" else 60))
    run_id = start(cli, project, agents_plan(project, "ll", {"w": "sleep 300"}))
    kill(tmux_socket, "ll-DEMO-1-w")
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="metawsm.operator"):
        d = only(tick(project), source="rules", intent="restart", executed=True)
    assert time.monotonic() - t0 < 25  # the hanging command sleeps 30 s: it was cut, not waited for
    assert d.detail["new_attempt"] == 2
    assert engine(project).store.get_agent(run_id, "DEMO-1", "w").attempt == 2
    expected = {"hang": "timed out after 1s", "garbage": "no JSON object", "exit1": "exited with status 1",
                "unknown": "unknown intent 'reboot_the_world'"}[behaviour]
    assert any(expected in r.getMessage() and "the rules decide" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    assert len(situations(llm_dir)) == 1
