"""RunSnapshot: one typed picture of a run — steps, agents with health, pending questions, escalations
and the close gate per ticket — for `metawsm status`, `metawsm watch` and the daemon's /runs routes.

Building snapshots evaluates agent health (engine/health.py) and writes nothing else: no reconcile, no
gate commands (the gate column is the recorded `gate:T` step), no forum writes. `select_runs` keeps
"active runs" one indexed query, so a project with thousands of finished runs costs nothing extra.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from metawsm.engine.health import (
    AgentHealth,
    evaluate_run,
    is_unhealthy,
    recorded_health,
    run_signals,
    workspace_paths,
)
from metawsm.engine.hookstate import HookEvent, run_hook_events
from metawsm.engine.queue import queue_reasons
from metawsm.engine.usageview import AttemptUsageView, UsageView, run_usage, total
from metawsm.plan.steps import AgentStep, typed
from metawsm.state.db import iso
from metawsm.state.machines import ACTIVE_RUN_STATES

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.forum.models import Escalation
    from metawsm.state.models import Agent, Run, Step

GATE_STATE = {"pending": "not evaluated", "running": "evaluating", "done": "passed", "failed": "refused",
              "skipped": "skipped"}


class _Json:
    def to_json(self) -> dict[str, Any]:
        # The views are flat records of plain values: a shallow dict is what asdict() would build, without its
        # recursive deep copy (status --json turns hundreds of agents into JSON).
        return {name: getattr(self, name) for name in self.__dataclass_fields__}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StepView(_Json):
    step_id: str
    kind: str
    ticket: str | None
    agent: str | None
    status: str
    attempts: int
    last_error: str | None
    started_at: str | None
    finished_at: str | None
    note: str | None = None  # why a running step waits (a session queued for a backend slot)


@dataclass(frozen=True)
class AgentView(_Json):
    ticket: str
    name: str
    key: str  # TICKET/name, the forum's agent name and `metawsm attach`'s argument
    profile: str
    status: str
    health: str | None
    health_reason: str
    unhealthy: bool
    attempt: int
    session: str
    pane_pid: int | None
    exit_status: int | None
    last_activity_at: str | None
    last_progress_at: str | None
    activity_age_seconds: float | None
    progress_age_seconds: float | None
    attach: str  # the command that attaches a terminal to the agent's session
    usage: UsageView | None = None  # tokens and cost over all attempts, as the AI CLI reported them
    usage_attempts: list[AttemptUsageView] = field(default_factory=list)
    review: str | None = None  # a reviewer's verdict for its current attempt ("approved at <sha>", …)
    backend: str = "local"  # the runtime backend the agent runs on (policy runtime.backend or the plan agent's)
    where: str = ""  # where its session runs now (tmux socket, container, host); empty when it has none
    queued: str = ""  # why it waits to start (engine/queue.py): a backend without a free slot, max_parallel

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["usage"] = self.usage.to_json() if self.usage else None
        data["usage_attempts"] = [u.to_json() for u in self.usage_attempts]
        return data


@dataclass(frozen=True)
class QuestionView(_Json):
    ticket: str
    agent: str
    attempt: int
    thread_id: str
    question: str
    answer_with: str
    kind: str = "ask"  # ask: `metawsm ask` / ask_human, answered in the forum; input: the CLI waits for its user


@dataclass(frozen=True)
class EscalationView(_Json):
    thread_id: str
    ticket: str
    title: str
    state: str
    priority: str
    reason: str  # "priority" or "sla"
    waiting_minutes: float


@dataclass(frozen=True)
class GateView(_Json):
    ticket: str
    state: str  # not evaluated | evaluating | passed | refused | skipped | no gate
    step_status: str | None
    reason: str | None
    evaluated_at: str | None


@dataclass(frozen=True)
class TicketView(_Json):
    ticket: str
    status: str  # open | working | ready | closing | merged | failed | abandoned (state/machines.py)
    reason: str
    run_id: str | None  # the run that works on it (or merged it) — may be another run than this one
    merged_sha: str | None
    next: str  # the command that moves it on


@dataclass(frozen=True)
class RunSnapshot:
    run_id: str
    plan_name: str
    status: str
    active: bool
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    finished_at: str | None
    last_error: str | None
    tickets: list[str]
    step_counts: dict[str, int]
    steps: list[StepView] = field(default_factory=list)
    agents: list[AgentView] = field(default_factory=list)
    questions: list[QuestionView] = field(default_factory=list)
    escalations: list[EscalationView] = field(default_factory=list)
    gates: list[GateView] = field(default_factory=list)
    ticket_states: list[TicketView] = field(default_factory=list)
    usage: UsageView | None = None  # the run's AI agents' tokens and cost
    ticket_usage: dict[str, UsageView] = field(default_factory=dict)

    @property
    def unhealthy_agents(self) -> list[AgentView]:
        return [a for a in self.agents if a.unhealthy]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "plan_name": self.plan_name, "status": self.status, "active": self.active,
            "created_at": self.created_at, "updated_at": self.updated_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "last_error": self.last_error, "tickets": self.tickets,
            "step_counts": self.step_counts, "steps": [s.to_json() for s in self.steps],
            "agents": [a.to_json() for a in self.agents],
            "unhealthy_agents": [a.key for a in self.unhealthy_agents],
            "questions": [q.to_json() for q in self.questions],
            "escalations": [e.to_json() for e in self.escalations],
            "gates": [g.to_json() for g in self.gates],
            "ticket_states": [t.to_json() for t in self.ticket_states],
            "usage": self.usage.to_json() if self.usage else None,
            "ticket_usage": {t: u.to_json() for t, u in self.ticket_usage.items()},
        }


def pending_questions(eng: Engine, agents: list[Any], signals: Mapping[str, Any] | None = None,
                      hooks: Mapping[str, HookEvent] | None = None) -> list[QuestionView]:
    """Questions the live attempts of `agents` wait on, each with the command that answers it
    (`signals`: the run's reduced control signals, read once when not given; `hooks`: the CLIs' last hook
    events — a CLI waiting for its user is a question answered by attaching to its session)."""
    live = [a for a in agents if a.attempt >= 1 and a.status not in ("stopped", "pending")]
    if signals is None:
        signals = run_signals(eng, live[0].run_id) if live else {}
    questions = []
    for agent in live:
        key = eng.agent_key(agent.ticket, agent.name)
        sig = signals.get(key)
        state = sig.state(agent.attempt) if sig else None
        if state is not None and state.pending_question:
            thread = state.pending_thread_id or ""
            questions.append(QuestionView(agent.ticket, agent.name, agent.attempt, thread, state.pending_question,
                                          f"metawsm forum answer {thread} --body '...'"))
            continue
        hook = (hooks or {}).get(key)
        done = state is not None and state.completion is not None
        if hook is not None and hook.waiting and hook.attempt == agent.attempt and not done \
                and agent.status in ("running", "idle", "stalled"):
            questions.append(QuestionView(agent.ticket, agent.name, agent.attempt, hook.thread_id, hook.question(),
                                          f"metawsm attach {key}", kind="input"))
    return questions


def attach_command(eng: Engine, session: str, backend: str | None = None) -> list[str]:
    """The argv attaching a terminal to ``session`` (on ``backend`` when known: no Runtime query then)."""
    if backend is None:
        return eng.runtime.attach_command(session)
    return eng.runtime.backend_runtime(backend).attach_command(session)


def session_backends(steps: list[Any]) -> dict[tuple[str | None, str | None], str]:
    """(ticket, agent) → the runtime backend its recorded session step names ("local" when none)."""
    from metawsm.plan.steps import SessionStep, StepDecodeError, typed

    found: dict[tuple[str | None, str | None], str] = {}
    for step in steps:
        if step.kind == "session":
            try:
                found[(step.ticket, step.agent)] = typed(step, SessionStep).backend or "local"
            except StepDecodeError:  # the session step's own failure says why; where stays unknown
                continue
    return found


def _escalation_views(items: list[Escalation]) -> list[EscalationView]:
    return [EscalationView(e.thread.thread_id, e.thread.ticket, e.thread.title, e.thread.state, e.thread.priority,
                           e.reason, round(e.waiting_minutes, 1)) for e in items]


def _review(signals: Mapping[str, Any], key: str, attempt: int) -> str:
    """A reviewer's verdict for its current attempt, in words."""
    sig = signals.get(key)
    state = sig.state(attempt) if sig and attempt >= 1 else None
    review = state.review if state is not None else None
    if review is None:
        return "no verdict yet"
    words = "approved" if review["status"] == "approved" else "changes requested"
    note = " ".join(str(review.get("note") or "").split())
    return f"{words} at {str(review['sha'])[:12]}" + (f": {note[:200]}" if note else "")


def _agent_view(eng: Engine, agent: Any, h: AgentHealth, attempts: list[AttemptUsageView],
                review: str | None = None, backend: str = "local", queued: str = "") -> AgentView:
    state = eng.cached_sessions().get(agent.session) if agent.session else None
    return AgentView(
        ticket=agent.ticket, name=agent.name, key=eng.agent_key(agent.ticket, agent.name), profile=agent.profile,
        status=h.status, health=h.health, health_reason=h.reason, unhealthy=is_unhealthy(h.status, h.health),
        attempt=agent.attempt, session=agent.session, pane_pid=agent.pane_pid, exit_status=h.exit_status,
        last_activity_at=iso(h.last_activity_at), last_progress_at=iso(h.last_progress_at),
        activity_age_seconds=None if h.activity_age is None else round(h.activity_age, 1),
        progress_age_seconds=None if h.progress_age is None else round(h.progress_age, 1),
        attach=shlex.join(attach_command(eng, agent.session, backend)),
        usage=total(attempts), usage_attempts=attempts, review=review,
        backend=state.backend if state is not None else backend, where=state.where if state is not None else "",
        queued=queued if h.status == "pending" else "",
    )


def tries(step: Step, agents: Iterable[Agent]) -> int:
    """How often a step was tried. An agent step is tried once per attempt of its agent (a restart re-runs the step,
    which counts its own tries from zero again): it shows the agent's attempt, so tries and attempt agree."""
    if step.kind == "agent":
        for a in agents:
            if f"agent:{a.ticket}:{a.name}" == step.step_id:
                return max(a.attempt, step.attempts)
    return step.attempts


def build_snapshot(eng: Engine, run: Run, *, escalations: list[Escalation] | None = None,
                   evaluate_health: bool = True) -> RunSnapshot:
    """One run's snapshot. `escalations` are the forum's current escalations (all runs; this run's are
    picked out), fetched once by `build_snapshots`."""
    steps = eng.store.list_steps(run.run_id)
    agents = eng.store.list_agents(run.run_id)
    # Signals matter for agents health evaluates or whose question may be pending: a run whose agents all
    # stopped (most finished runs) needs no forum query.
    live = any(a.attempt >= 1 and a.status not in ("stopped", "pending") for a in agents)
    signals = run_signals(eng, run.run_id) if live else {}
    hooks = run_hook_events(eng, run.run_id) if live else {}
    if evaluate_health:
        healths = evaluate_run(eng, run.run_id, agents=agents, signals=signals, workspaces=workspace_paths(steps),
                               hooks=hooks)
    else:
        healths = recorded_health(eng, agents, "health not evaluated")
    tickets = sorted({s.ticket for s in steps if s.ticket} | {a.ticket for a in agents})
    backends = session_backends(steps)
    queued = queue_reasons(run, steps)
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    questions = pending_questions(eng, agents, signals, hooks)
    gates = []
    by_id = {s.step_id: s for s in steps}
    for ticket in tickets:
        gate = by_id.get(f"gate:{ticket}")
        if gate is None:
            gates.append(GateView(ticket, "no gate", None, None, None))
        else:
            gates.append(GateView(ticket, GATE_STATE.get(gate.status, gate.status), gate.status,
                                  gate.last_error if gate.status == "failed" else None, iso(gate.finished_at)))
    ticket_views = _ticket_views(eng, run, tickets)
    reviewers = {(s.ticket, s.agent) for s in steps if s.kind == "agent" and typed(s, AgentStep).role == "reviewer"}
    if reviewers and not signals:
        signals = run_signals(eng, run.run_id)
    reviews = {(a.ticket, a.name): _review(signals, eng.agent_key(a.ticket, a.name), a.attempt)
               for a in agents if (a.ticket, a.name) in reviewers}
    usage = run_usage(eng, run.run_id)
    ticket_usage: dict[str, UsageView] = {}
    for ticket in tickets:
        found = total(a for (t, _agent), attempts in usage.items() if t == ticket for a in attempts)
        if found is not None:
            ticket_usage[ticket] = found
    mine = [e for e in escalations or () if e.thread.run_id == run.run_id
            or (e.thread.run_id is None and e.thread.ticket in tickets)]
    return RunSnapshot(
        run_id=run.run_id, plan_name=run.plan_name, status=run.status, active=run.status in ACTIVE_RUN_STATES,
        created_at=iso(run.created_at), updated_at=iso(run.updated_at), started_at=iso(run.started_at),
        finished_at=iso(run.finished_at), last_error=run.last_error, tickets=tickets, step_counts=counts,
        steps=[StepView(s.step_id, s.kind, s.ticket, s.agent, s.status, tries(s, agents), s.last_error,
                        iso(s.started_at), iso(s.finished_at), s.note) for s in steps],
        agents=[_agent_view(eng, a, h, usage.get((a.ticket, a.name), []), reviews.get((a.ticket, a.name)),
                            backends.get((a.ticket, a.name), "local"), queued.get((a.ticket, a.name), ""))
                for a, h in zip(agents, healths, strict=True)],
        questions=questions, escalations=_escalation_views(mine), gates=gates, ticket_states=ticket_views,
        usage=total(ticket_usage.values()), ticket_usage=ticket_usage,
    )


def _ticket_views(eng: Engine, run: Run, tickets: list[str]) -> list[TicketView]:
    from metawsm.engine.closeplan import next_command
    from metawsm.engine.tickets import effective

    views = []
    for ticket, (status, reason, t) in effective(eng, run, tickets).items():
        why, command = next_command(status, ticket, run.plan_name, reason)
        if status == "ready":
            why, command = reason or "gate passed", f"metawsm close --ticket {ticket}"
        elif status == "closing":
            why, command = "a close is merging it (or was interrupted)", f"metawsm close --ticket {ticket}"
        views.append(TicketView(ticket, status, reason or why, t.run_id if t else None,
                                t.merged_sha if t else None, command))
    return views


def build_snapshots(eng: Engine, runs: list[Run], *, evaluate_health: bool = True,
                    now: datetime | None = None) -> list[RunSnapshot]:
    """Snapshots of `runs` with ONE Runtime query and ONE escalation query for all of them."""
    if not runs:
        return []
    eng.forget_sessions()  # the first run with a live agent asks the Runtime once; the others reuse the answer
    escalations = eng.forum.escalations(now=now or datetime.now(UTC))
    return [build_snapshot(eng, run, escalations=escalations, evaluate_health=evaluate_health) for run in runs]
