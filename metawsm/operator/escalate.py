"""Escalation to a human: a forum thread (priority and assignee from `operator.escalation`) and a line in
the ticket's changelog (`tickets/<ID>.changelog.md` in the repository root); operator notes in an agent's
control thread. Each escalation carries an idempotency key, so a retried tick never opens a second
thread for the same alert."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.errors import MetawsmError, NotFoundError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.operator.rules import AgentView
    from metawsm.state.models import Run

log = logging.getLogger(__name__)

ACTOR = "metawsm-operator"


@dataclass(frozen=True)
class Escalated:
    thread_id: str
    changelog: Path | None


def changelog_line(eng: Engine, ticket: str, text: str) -> Path | None:
    path = eng.project.root / "tickets" / f"{ticket}.changelog.md"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(eng.clock()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with path.open("a", encoding="utf-8") as fh:
            if new:
                fh.write(f"# {ticket} changelog\n\n")
            fh.write(f"- {stamp} {' '.join(text.split())}\n")
    except OSError as exc:
        log.warning("cannot write the changelog %s: %s", path, exc)
        return None
    return path


def escalate(eng: Engine, *, run_id: str, ticket: str, agent_key: str, kind: str, title: str, body: str,
             dedupe: str) -> Escalated:
    """Open (once per `dedupe`) a thread for a human, assign it per policy, log it in the changelog."""
    pol = eng.policy.operator.escalation
    forum = eng.forum
    thread = forum.open_thread(ticket, title, body, priority=pol.priority, run_id=run_id, agent_name=agent_key,
                               actor_type="operator", actor_name=ACTOR,
                               idempotency_key=f"operator:{run_id}:{agent_key}:{kind}:{dedupe}")
    if thread.assignee_name is None:  # a replayed open already carries its assignment
        kind_name, _, name = pol.assignee.partition(":")
        thread = forum.assign(thread.thread_id, kind_name, name, note=f"operator escalation ({kind})",
                              actor_type="operator", actor_name=ACTOR)
        if kind_name == "human" and thread.state == "new":
            thread = forum.set_state(thread.thread_id, "waiting_human", actor_type="operator", actor_name=ACTOR)
        path = changelog_line(eng, ticket, f"operator escalation ({kind}) for {agent_key} in run {run_id}: "
                                           f"{title} — forum thread {thread.thread_id}")
    else:
        path = None
    return Escalated(thread.thread_id, path)


def note(eng: Engine, *, run_id: str, ticket: str, agent_key: str, body: str) -> str:
    """Post an operator note in the agent's control thread (opening the thread if no signal did yet)."""
    from metawsm.forum.signals import CONTROL_BODY, CONTROL_TITLE

    forum = eng.forum
    tid = forum.control_thread_id(run_id, agent_key)
    try:
        forum.post(tid, body, actor_type="operator", actor_name=ACTOR)
    except NotFoundError:
        try:
            forum.open_thread(ticket, CONTROL_TITLE.format(agent=agent_key, run=run_id), CONTROL_BODY,
                              run_id=run_id, agent_name=agent_key, actor_type="system", actor_name="metawsm",
                              thread_id=tid)
        except MetawsmError as exc:  # opened meanwhile by the agent's first signal
            log.debug("control thread %s: %s", tid, exc)
        forum.post(tid, body, actor_type="operator", actor_name=ACTOR)
    return tid


def escalation_text(eng: Engine, run: Run, view: AgentView, kind: str, reason: str) -> tuple[str, str]:
    """The title and body of an escalation thread of `kind` (guidance, input, budget, llm)."""
    key, rid = view.key, run.run_id
    look = (f"Look: `metawsm status --run {rid}`, `metawsm attach {key} --run {rid}`.\n"
            f"Restart by hand: `metawsm restart --run {rid} --agent {key}`.")
    if kind == "guidance":
        tid = eng.forum.control_thread_id(rid, key)
        q = view.pending_question or ""
        title = f"{key} waits for an answer: {q[:80]}"
        body = (f"{key} (run {rid}, attempt {view.agent.attempt}) asked a question nobody answered in time:\n\n"
                f"> {q}\n\n{reason}\n\nAnswer it with `metawsm forum answer {tid} --body \"...\"`.")
    elif kind == "input":  # the agent's CLI asks its user in its session: answered by attaching
        title = f"{key} waits for its user: {(view.input_wait.question() if view.input_wait else '')[:80]}"
        body = (f"{key} (run {rid}, attempt {view.agent.attempt}) waits in its session for a person:\n\n{reason}"
                f"\n\nAnswer it there: `metawsm attach {key} --run {rid}`.")
    elif kind == "budget":
        title = f"{key}: restart budget exhausted"
        body = (f"The operator restarted {key} (run {rid}) {view.ledger.restart_attempts} time(s); it is "
                f"unhealthy again and will not be restarted automatically.\n\n{reason}\n\n{look}")
    else:
        title = f"{key}: the operator's adviser asks for a human"
        body = f"{reason}\n\nAgent {key} (run {rid}, attempt {view.agent.attempt}).\n\n{look}"
    return title, body

