"""Operator actions on runs: stop and resume (a run, one ticket or one agent), restart agents.
Ending runs (cleanup, forget) is engine/cleanup.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine.agentmoves import move
from metawsm.engine.apply import reset_step, stop_step
from metawsm.engine.kinds.agent_inputs import restart_note_path
from metawsm.engine.locking import locked
from metawsm.errors import MetawsmError, NotFoundError, UsageError
from metawsm.plan.steps import ShellStep, typed
from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

LIVE_AGENT = ("pending", "running", "idle", "stalled")


@dataclass
class ActionResult:
    run_id: str
    status: str
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "actions": self.actions}


def _move_run(eng: Engine, run: Run, *targets: str, reason: str) -> Run:
    for target in targets:
        if run.status != target and can_transition("run", run.status, target):
            run = eng.store.transition_run(run.run_id, target, reason)
    return run


def _sessions(eng: Engine, run: Run, ticket: str | None = None) -> list[str]:
    from metawsm.engine.kinds.base import StepRef
    from metawsm.engine.kinds.shell import session_for

    names = [a.session for a in eng.store.list_agents(run.run_id) if a.session and ticket in (None, a.ticket)]
    for step in eng.store.list_steps(run.run_id):
        if step.kind == "shell" and ticket in (None, step.ticket) and typed(step, ShellStep).tmux:
            names.append(session_for(StepRef(run, step)))
    return names


def parse_agent(eng: Engine, run: Run, agent: str) -> list[Any]:
    """`T/A` (or `A` when only one ticket has it) to the run's matching agents."""
    ticket, _, name = agent.rpartition("/")
    agents = [a for a in eng.store.list_agents(run.run_id) if a.name == name and (not ticket or a.ticket == ticket)]
    if not agents:
        raise NotFoundError(f"no agent {agent!r} in run {run.run_id}")
    if len({a.ticket for a in agents}) > 1:
        raise UsageError(f"agent {agent!r} exists for several tickets; name one: "
                         + ", ".join(f"{a.ticket}/{a.name}" for a in agents))
    return agents


@locked("stop")
def stop_run(eng: Engine, run: Run, *, reason: str = "stopped by a person", ticket: str | None = None,
             agent: str | None = None) -> ActionResult:
    """Stop a run (its running steps, agents and sessions; the run moves to stopped), or only one ticket's or
    one agent's (`T/A`) — the rest of the run goes on. Stopping what is not running is a no-op."""
    from metawsm.engine.tickets import sync_tickets

    result = ActionResult(run.run_id, run.status)
    agents = parse_agent(eng, run, agent) if agent else None
    if agents is not None:
        ticket = agents[0].ticket
    whole = ticket is None
    if whole and not can_transition("run", run.status, "stopping"):
        result.actions.append(f"nothing to stop: run is {run.status}")
        return result
    if whole:
        run = _move_run(eng, run, "stopping", reason=reason)
    wanted = {f"agent:{a.ticket}:{a.name}" for a in agents} if agents is not None else None
    for step in eng.store.list_steps(run.run_id):
        if step.status != "running" or (ticket is not None and step.ticket != ticket):
            continue
        if wanted is not None and step.step_id not in wanted:
            continue
        stop_step(eng, run, step)
        eng.store.transition_step(run.run_id, step.step_id, "failed", reason, error=reason)
        result.actions.append(f"stopped step {step.step_id}")
    for a in agents if agents is not None else eng.store.list_agents(run.run_id):
        if a.status in LIVE_AGENT and ticket in (None, a.ticket):
            move(eng, a, "stopping", "stopped", reason=reason)
            eng.store.update_agent(run.run_id, a.ticket, a.name, stopped_by_user=True)
            result.actions.append(f"stopped agent {a.ticket}/{a.name}")
    sessions = [a.session for a in agents if a.session] if agents is not None else _sessions(eng, run, ticket)
    for name in sessions:
        if eng.runtime.kill(name):
            result.actions.append(f"ended session {name}")
    if whole:
        run = _move_run(eng, eng.store.get_run(run.run_id), "stopped", reason=reason)
    sync_tickets(eng, run)
    if not result.actions:
        result.actions.append("nothing was running")
    result.status = eng.store.get_run(run.run_id).status
    return result


@locked("resume")
def resume_run(eng: Engine, run: Run, *, max_parallel: int | None = None, ticket: str | None = None) -> ActionResult:
    """Run failed or stopped steps again (of one ticket, or of the whole run) and continue the run."""
    from metawsm.engine.reconcile import reconcile
    from metawsm.engine.tickets import settled

    if run.status in ("closed", "ended"):
        raise MetawsmError(f"run {run.run_id} is {run.status}; it cannot be resumed",
                           hint="`metawsm apply PLAN` starts a new run for the tickets not merged")
    result = ActionResult(run.run_id, run.status)
    done = settled(eng, [ticket] if ticket else [s.ticket for s in eng.store.list_steps(run.run_id) if s.ticket])
    for step in eng.store.list_steps(run.run_id):
        if step.status == "failed" and ticket in (None, step.ticket) and step.ticket not in done:
            reset_step(eng, run, step, "resumed")
            result.actions.append(f"will re-run {step.step_id}")
    for agent in eng.store.list_agents(run.run_id):
        if agent.stopped_by_user and ticket in (None, agent.ticket):
            eng.store.update_agent(run.run_id, agent.ticket, agent.name, stopped_by_user=False)
    if run.status in ("running", "awaiting_guidance") and not result.actions:
        result.actions.append("already running")
    _move_run(eng, eng.store.get_run(run.run_id), "running", reason="resumed by a person")
    outcome = reconcile(eng, run.run_id, max_parallel=max_parallel)
    result.actions += [f"{e.step_id}: {e.status}" for e in outcome.events]
    result.status = outcome.status
    return result


def restart_note(eng: Engine, run: Run, ticket: str, agent_name: str, reason: str) -> str:
    agent = eng.store.get_agent(run.run_id, ticket, agent_name)
    lines = [f"NOTE: this is a restart (attempt {agent.attempt + 1}; previous attempt {agent.attempt} "
             f"ended: {reason})."]
    if agent.attempt >= 1:
        state = eng.forum.control_state(run.run_id, eng.agent_key(ticket, agent_name), agent.attempt)
        if state.pending_question:
            lines.append(f"Your last question is still unanswered: {state.pending_question}")
        if state.last_answer:
            lines.append(f"Latest answer you received: {state.last_answer[0]}")
        if state.completion:
            lines.append(f"You had reported completion: {state.completion[0] or '(no summary)'}")
    lines.append("Check the workspace (git log, git status) for the work already done before continuing.")
    return "\n".join(lines)


@locked("restart")
def restart_agents(eng: Engine, run: Run, *, agent: str | None = None, reason: str = "restarted by a person",
                   max_parallel: int | None = None, several: Sequence[str] = ()) -> ActionResult:
    """New attempt for the selected agents (``agent``, or each of ``several``, else all of the run) — all reset
    before one reconcile, so none restarted here starts twice; their dependents run again."""
    from metawsm.engine.reconcile import reconcile

    if run.status in ("closed", "ended"):
        raise MetawsmError(f"run {run.run_id} is {run.status}; nothing to restart")
    if several:
        agents = [a for key in several for a in parse_agent(eng, run, key)]
    else:
        agents = parse_agent(eng, run, agent) if agent else eng.store.list_agents(run.run_id)
    result = ActionResult(run.run_id, run.status)
    steps = {s.step_id: s for s in eng.store.list_steps(run.run_id)}
    from metawsm.plan.graph import StepGraph

    graph = StepGraph.from_json(json.loads(run.graph_json))
    rerun: set[str] = set()
    for a in agents:
        step = steps.get(f"agent:{a.ticket}:{a.name}")
        if step is None:
            continue
        note = restart_note_path(eng, run.run_id, a.ticket, a.name)
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(restart_note(eng, run, a.ticket, a.name, reason), encoding="utf-8")
        reset_step(eng, run, step, reason)
        rerun.add(step.step_id)
        result.actions.append(f"restarting {a.ticket}/{a.name} (attempt {a.attempt + 1})")
    for s in graph.steps:  # dependents of a restarted agent run again after it
        row = steps.get(s.id)
        if row and s.id not in rerun and any(n in rerun for n in s.needs) and row.status != "pending":
            reset_step(eng, run, eng.store.get_step(run.run_id, s.id), "a step it needs runs again")
            rerun.add(s.id)
    _move_run(eng, eng.store.get_run(run.run_id), "running", reason=reason)
    outcome = reconcile(eng, run.run_id, max_parallel=max_parallel)
    result.status = outcome.status
    return result
