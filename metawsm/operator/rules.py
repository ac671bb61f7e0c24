"""The deterministic rules: what the operator would do for a run and each of its agents, first match wins.

1. a question (guidance request) of a live agent waited past `forum.sla.escalation_minutes` → escalate
   it to a human, once per question; the same for an agent whose CLI waits for its user (its hooks said
   `waiting for input`, or an interactive turn ended without completion: engine/hookstate.py), once per wait;
2. the run's last sign of life is older than `operator.stale_run_age_seconds` and every agent that has
   not completed is dead → stop the run (the loop verifies the evidence again before acting);
3. an agent unhealthy for `operator.unhealthy_confirmations` consecutive ticks → restart it (a new
   attempt) when the budget and the cooldown allow, else escalate "budget exhausted", once;
4. otherwise nothing.

An agent a person stopped is never restarted, and neither is one that completed its ticket. These
functions only decide; `loop.py` acts, `budget.py` persists the counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.engine.health import AgentHealth
    from metawsm.engine.hookstate import HookEvent
    from metawsm.forum.models import ControlState
    from metawsm.operator.budget import AgentLedger
    from metawsm.state.models import Agent, Run

#: Run statuses the rules act on (the other active states are a person's or the engine's business).
OPERATED = frozenset({"running", "awaiting_guidance", "failed"})
#: Agent statuses with a live attempt (a pane that may still be working).
LIVE = frozenset({"running", "idle", "stalled"})
DEAD = frozenset({"dead", "failed"})

WAIT, RESTART, ESCALATE, STOP, ANSWER = "wait", "restart", "escalate", "stop", "answer"


@dataclass(frozen=True)
class Decision:
    """One thing the operator decided about a run or one of its agents (and whether it was done)."""

    source: str  # "rules" or "llm"
    intent: str  # wait | restart | escalate | stop | answer
    run_id: str
    reason: str
    ticket: str | None = None
    agent: str | None = None
    attempt: int | None = None
    act: bool = False  # the decision calls for an action
    executed: bool = False
    kind: str | None = None  # escalations: guidance | budget | llm
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        return f"{self.ticket}/{self.agent}" if self.ticket and self.agent else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "decision", "source": self.source, "intent": self.intent,
                                "run_id": self.run_id, "ticket": self.ticket, "agent": self.agent,
                                "attempt": self.attempt, "reason": self.reason, "executed": self.executed}
        if self.kind:
            data["kind"] = self.kind
        data.update(self.detail)
        return data


@dataclass(frozen=True)
class AgentView:
    """Everything the rules look at for one agent on one tick."""

    agent: Agent
    health: AgentHealth
    ledger: AgentLedger  # the persisted counters, with this tick's unhealthy count already applied
    control: ControlState | None  # the current attempt's control state
    completed: bool  # its agent step is done (completion signalled for its current attempt)
    question_age: float | None = None  # seconds since the pending question was asked
    input_wait: HookEvent | None = None  # its CLI waits for its user (the current attempt's hook event)

    @property
    def key(self) -> str:
        return f"{self.agent.ticket}/{self.agent.name}"

    @property
    def pending_question(self) -> str | None:
        return self.control.pending_question if self.control else None

    @property
    def question_seq(self) -> int | None:
        return self.control.question_event_seq if self.control else None


def _decision(view: AgentView, intent: str, reason: str, *, act: bool = False, kind: str | None = None,
              **detail: Any) -> Decision:
    a = view.agent
    return Decision("rules", intent, a.run_id, reason, a.ticket, a.name, a.attempt, act=act, kind=kind,
                    detail=detail)


def guidance_due(view: AgentView, policy: Policy) -> Decision | None:
    """Rule 1: a live agent's question waited past the forum SLA and was not escalated yet."""
    seq = view.question_seq
    if seq is None or view.agent.status not in LIVE or view.question_age is None:
        return None
    sla = policy.forum.sla.escalation_minutes * 60
    if view.question_age < sla or view.ledger.alerted("guidance", seq):
        return None
    return _decision(view, ESCALATE, f"question unanswered for {view.question_age / 60:.0f} min "
                                     f"(SLA {policy.forum.sla.escalation_minutes} min): {view.pending_question}",
                     act=True, kind="guidance", question_seq=seq)


def last_sign_of_life(run: Run, views: list[AgentView]) -> float:
    times = [run.updated_at]
    for v in views:
        a = v.agent
        times += [t for t in (a.updated_at, a.last_activity_at, a.last_progress_at, v.ledger.last_restart_at) if t]
    return max(times)


def stale_candidate(run: Run, views: list[AgentView], policy: Policy, now: float) -> str | None:
    """Rule 2 (before verification): why the run looks abandoned, or None."""
    pending = [v for v in views if not v.completed]
    if not pending or not all(v.agent.status in DEAD or v.health.health == "dead" for v in pending):
        return None
    quiet = now - last_sign_of_life(run, views)
    if quiet < policy.operator.stale_run_age_seconds:
        return None
    return (f"no sign of life for {quiet:.0f}s (stale after {policy.operator.stale_run_age_seconds}s) and "
            f"every unfinished agent is dead ({', '.join(v.key for v in pending)})")


def restart_blocker(view: AgentView, policy: Policy, now: float) -> str | None:
    """Why the agent may not be restarted now (budget, cooldown, a person, completion), or None."""
    a, led = view.agent, view.ledger
    if a.stopped_by_user:
        return "stopped by a person; the operator never restarts it"
    if view.completed:
        return "completed its ticket"
    if led.restart_attempts >= policy.operator.restart_budget:
        return f"restart budget exhausted ({led.restart_attempts}/{policy.operator.restart_budget})"
    if led.cooldown_until is not None and now < led.cooldown_until:
        return f"cooldown: next restart possible in {led.cooldown_until - now:.0f}s"
    return None


def unhealthy(view: AgentView, policy: Policy, now: float) -> Decision | None:
    """Rule 3: confirmed unhealthy → restart within budget and cooldown, else escalate once."""
    h, led, op = view.health, view.ledger, policy.operator
    if not h.unhealthy or view.completed or view.agent.stopped_by_user:
        return None
    what = h.health if h.health in ("dead", "stalled") else h.status
    if led.consecutive_unhealthy < op.unhealthy_confirmations:
        return _decision(view, WAIT, f"{what}: {h.reason}; unhealthy {led.consecutive_unhealthy}/"
                                     f"{op.unhealthy_confirmations} ticks, awaiting confirmation")
    blocker = restart_blocker(view, policy, now)
    if blocker is None:
        return _decision(view, RESTART, f"{what} for {led.consecutive_unhealthy} ticks ({h.reason}); "
                                        f"restart {led.restart_attempts + 1}/{op.restart_budget}", act=True)
    if led.restart_attempts >= op.restart_budget:
        if led.alerted("budget", view.agent.attempt):
            return _decision(view, WAIT, f"{what}: {h.reason}; {blocker}; already escalated")
        return _decision(view, ESCALATE, f"{what}: {h.reason}; {blocker}", act=True, kind="budget")
    return _decision(view, WAIT, f"{what}: {h.reason}; {blocker}")


def input_wait(hook: HookEvent | None, agent: Agent) -> HookEvent | None:
    """The agent's last hook event when it says its CLI waits for its user, for its current attempt."""
    return hook if hook is not None and hook.waiting and hook.attempt == agent.attempt else None


def input_due(view: AgentView, policy: Policy, now: float) -> Decision | None:
    """Rule 1, for a CLI waiting for its user: past the forum SLA and not escalated yet (once per wait)."""
    wait = view.input_wait
    if wait is None or view.completed or view.agent.status not in LIVE:
        return None
    age, sla, key = max(now - wait.at, 0.0), policy.forum.sla.escalation_minutes * 60, f"{wait.attempt}:{wait.at:.3f}"
    if age < sla or view.ledger.alerted("input", key):
        return None
    return _decision(view, ESCALATE, f"waiting for its user for {age / 60:.0f} min (SLA "
                                     f"{policy.forum.sla.escalation_minutes} min): {wait.question()}",
                     act=True, kind="input", dedupe=key)


def decide_agent(view: AgentView, policy: Policy, now: float) -> Decision | None:
    """Rules 1 and 3 for one agent (rule 2 is decided per run by the loop, between them)."""
    return guidance_due(view, policy) or input_due(view, policy, now) or unhealthy(view, policy, now)
