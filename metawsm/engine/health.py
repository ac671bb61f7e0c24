"""Agent health: liveness, activity, progress and idleness → healthy / idle / stalled / dead.

One evaluation makes ONE batched Runtime query (`Engine.sessions`) for every agent of every run it looks at,
one forum query per run (the run's control signals), and captures a pane or asks git for the last
commit only when the cheap signals say an agent looks idle or stalled:

- liveness: the agent's session and pane exist and the pane's command is still running (a dead pane's
  exit status is recorded);
- activity: the newest of the stored activity time, the Runtime's last-output time and — when those are
  older than `health.idle_seconds` — a change of the pane's content hash;
- progress: the newest of the stored progress time (the attempt's start), the agent's own control
  signals for its current attempt and — when those are older than `health.progress_stalled_seconds` —
  the workspace's last commit. Progress never takes the activity time, so an agent that prints
  forever without signalling or committing does turn stalled (the Go port's progress threshold never
  fired: it bumped progress with activity);
- no activity for `idle_seconds` → idle, for `activity_stalled_seconds` → stalled; no progress for
  `progress_stalled_seconds` → stalled even with activity. An agent waiting for an answer to its
  question is at worst idle: it waits for a person, not the other way round.
- the AI CLIs' own hooks (engine/hookstate.py) come before the pane: their events count as activity; an
  agent inside a turn (session started, turn started) stays healthy while its pane is quiet (progress
  still applies); an agent whose CLI waits for its user (waiting for input, or a turn finished without
  completion) is idle, waiting for a person — never stalled, never restarted — even while its TUI redraws.

Only agents in running / idle / stalled are evaluated; pending, stopping, stopped, completed, failed
and dead agents are left alone, and so is an agent that already signalled completion for its attempt
(reconcile finishes it). Status changes go through the agent state machine; health, activity/progress
times, pane hash and exit status are the only other fields written, and only when they change — and only
under the run's lease (engine/locking.py): inside an operation on the run, or when the lease is free at
once. While another command holds it (a `status` during an `apply`), health is evaluated and reported but
not written. What is written is judged on the agents as they are under the lease and on sessions seen after
their current attempt started (a view cached before a restart is asked again: `Engine.stale_for`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine.hookstate import HookEvent, run_hook_events
from metawsm.errors import MetawsmError, StateError
from metawsm.plan.steps import WorkspaceStep, spec_of
from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.forum.models import ControlState
    from metawsm.runtime.base import SessionState
    from metawsm.state.models import Agent

log = logging.getLogger(__name__)

EVALUATED = frozenset({"running", "idle", "stalled"})
STATUS_FOR = {"healthy": "running", "idle": "idle", "stalled": "stalled", "dead": "dead"}
UNHEALTHY_HEALTH = frozenset({"dead", "stalled"})
UNHEALTHY_STATUS = frozenset({"dead", "failed"})
CAPTURE_LINES = 200


def is_unhealthy(status: str, health: str | None) -> bool:
    """The one definition of "unhealthy" for snapshots, watch and the operator."""
    return health in UNHEALTHY_HEALTH or status in UNHEALTHY_STATUS


@dataclass
class AgentSignals:
    """What the forum says about one agent of a run (all attempts, keyed inside by attempt)."""

    states: dict[int, ControlState] = field(default_factory=dict)
    last_agent_signal_at: dict[int, float] = field(default_factory=dict)

    def state(self, attempt: int) -> ControlState | None:
        return self.states.get(attempt)


@dataclass(frozen=True)
class AgentHealth:
    run_id: str
    ticket: str
    agent: str
    health: str | None
    status: str
    reason: str
    evaluated: bool
    last_activity_at: float | None = None
    last_progress_at: float | None = None
    activity_age: float | None = None
    progress_age: float | None = None
    exit_status: int | None = None

    @property
    def unhealthy(self) -> bool:
        return is_unhealthy(self.status, self.health)


def run_signals(eng: Engine, run_id: str) -> dict[str, AgentSignals]:
    """Every control signal of a run, reduced per (agent key, attempt), from ONE index query."""
    from metawsm.forum import control, ids

    sql = ("SELECT s.sequence, s.control_type, s.payload_json, s.thread_id, s.agent_name, s.attempt,"
           " e.occurred_at, e.actor_type FROM signals s JOIN events e ON e.sequence = s.sequence"
           " WHERE s.run_id = ? ORDER BY s.sequence")
    # The Forum has no public "all signals of a run" read yet; this reads its index the way its own
    # queries do (under its lock, caught up with the log).
    rows = eng.forum._with_index(lambda conn: conn.execute(sql, (run_id,)).fetchall())
    grouped: dict[tuple[str, int], list[tuple[int, str, str, str]]] = {}
    result: dict[str, AgentSignals] = {}
    for seq, ctype, payload, thread_id, agent_name, attempt, occurred_at, actor_type in rows:
        grouped.setdefault((agent_name, attempt), []).append((seq, ctype, payload, thread_id))
        sig = result.setdefault(agent_name, AgentSignals())
        if actor_type == "agent":
            at = ids.parse_time(occurred_at).timestamp()
            sig.last_agent_signal_at[attempt] = max(at, sig.last_agent_signal_at.get(attempt, 0.0))
    for (agent_name, attempt), items in grouped.items():
        result[agent_name].states[attempt] = control.reduce(run_id, agent_name, attempt, items)
    return result


def workspace_paths(steps: Iterable[Any]) -> dict[str, str]:
    """ticket → primary worktree path, from the run's `workspace:T` steps."""
    paths: dict[str, str] = {}
    for step in steps:
        if step.kind == "workspace" and step.ticket:
            try:
                spec = spec_of(step)
            except MetawsmError:
                continue
            if isinstance(spec, WorkspaceStep):
                paths[step.ticket] = spec.path
    return paths


class _Evaluator:
    def __init__(self, eng: Engine, panes: Mapping[str, SessionState], now: float,
                 captured: Mapping[str, str] | None = None, *, write: bool = True) -> None:
        self.eng, self.panes, self.now, self.write = eng, panes, now, write
        self.h = eng.policy.health
        self.captured = captured or {}

    def needs_capture(self, agent: Agent) -> bool:
        """An idle-looking live agent: its screen is compared with the last one seen."""
        pane = self.panes.get(agent.session)
        if agent.status not in EVALUATED or agent.attempt < 1 or pane is None or pane.dead:
            return False
        return self.now - max(agent.last_activity_at or 0.0, pane.activity) >= self.h.idle_seconds

    def agent(self, agent: Agent, signals: AgentSignals | None, workspace: str | None,
              hook: HookEvent | None = None) -> AgentHealth:
        if agent.status not in EVALUATED or agent.attempt < 1:
            return self._static(agent, "")
        state = signals.state(agent.attempt) if signals else None
        if state is not None and state.completion is not None:
            return self._static(agent, "signalled completion; reconcile finishes it")
        pane = self.panes.get(agent.session)
        updates: dict[str, object] = {}
        if pane is None:
            return self._write(agent, "dead", f"session {agent.session} is gone", updates)
        if pane.dead:
            if pane.exit_status != agent.exit_status:
                updates["exit_status"] = pane.exit_status
            code = "unknown status" if pane.exit_status is None else f"status {pane.exit_status}"
            return self._write(agent, "dead", f"agent command exited ({code}) without signalling completion",
                               updates, exit_status=pane.exit_status)
        hook = hook if hook is not None and hook.attempt == agent.attempt else None
        activity = max(agent.last_activity_at or 0.0, pane.activity, hook.at if hook else 0.0)
        if self.now - activity >= self.h.idle_seconds:
            pane_hash = self._pane_hash(agent.session)
            if pane_hash is not None and pane_hash != agent.last_pane_hash:
                if agent.last_pane_hash is not None:
                    activity = self.now  # the screen changed though the Runtime's activity time did not say so
                updates["last_pane_hash"] = pane_hash
        progress = max(agent.last_progress_at or 0.0, signals.last_agent_signal_at.get(agent.attempt, 0.0)
                       if signals else 0.0)
        if self.now - progress >= self.h.progress_stalled_seconds and workspace:
            progress = max(progress, self._last_commit(workspace))
        if activity != (agent.last_activity_at or 0.0) and activity > 0:
            updates["last_activity_at"] = activity
        if progress != (agent.last_progress_at or 0.0) and progress > 0:
            updates["last_progress_at"] = progress
        a_age, p_age = max(self.now - activity, 0.0), max(self.now - progress, 0.0)
        waiting = state is not None and state.pending_question is not None
        if a_age >= self.h.activity_stalled_seconds:
            health, reason = "stalled", f"no pane activity for {a_age:.0f}s"
        elif p_age >= self.h.progress_stalled_seconds:
            health, reason = "stalled", f"no signal or commit for {p_age:.0f}s (pane active {a_age:.0f}s ago)"
        elif a_age >= self.h.idle_seconds:
            health, reason = "idle", f"no pane activity for {a_age:.0f}s"
        else:
            health, reason = "healthy", f"active {a_age:.0f}s ago, progress {p_age:.0f}s ago"
        if waiting and health != "healthy":
            health, reason = "idle", "waiting for an answer to its question"
        elif hook is not None and hook.waiting:  # the CLI asks its user: a person answers, nobody restarts it
            health, reason = "idle", hook.question()
        elif hook is not None and hook.working and health != "healthy" and p_age < self.h.progress_stalled_seconds:
            health, reason = "healthy", (f"in a turn ({hook.label} {max(self.now - hook.at, 0):.0f}s ago, said its "
                                         f"hook); pane quiet {a_age:.0f}s, progress {p_age:.0f}s ago")
        return self._write(agent, health, reason, updates, activity=activity, progress=progress,
                           a_age=a_age, p_age=p_age)

    def _static(self, agent: Agent, reason: str) -> AgentHealth:
        if not reason and agent.status == "stopped":
            reason = "stopped by a person" if agent.stopped_by_user else f"finished (attempt {agent.attempt})"
        if not reason and agent.status in ("dead", "failed"):
            code = "" if agent.exit_status is None else f" (exit status {agent.exit_status})"
            reason = ("its session or its main process ended" if agent.status == "dead"
                      else "its command failed") + code
        # health describes a live agent: a finished, stopped or not yet started one has none ("-"), whatever was
        # recorded while it ran; a dead or failed one keeps what was found
        health = agent.health if agent.status in ("dead", "failed") else None
        return AgentHealth(agent.run_id, agent.ticket, agent.name, health, agent.status, reason, False,
                           agent.last_activity_at, agent.last_progress_at,
                           self._age(agent.last_activity_at), self._age(agent.last_progress_at), agent.exit_status)

    def _age(self, at: float | None) -> float | None:
        return None if at is None else max(self.now - at, 0.0)

    def _write(self, agent: Agent, health: str, reason: str, updates: dict[str, object], *,
               activity: float | None = None, progress: float | None = None, a_age: float | None = None,
               p_age: float | None = None, exit_status: int | None = None) -> AgentHealth:
        store = self.eng.store
        status = agent.status
        try:
            if self.write:  # else another command holds the run's lease: report, do not write
                if health != agent.health:
                    updates["health"] = health
                if updates:
                    store.update_agent(agent.run_id, agent.ticket, agent.name, **updates)
                status = self._move(agent, STATUS_FOR[health], reason)
        except StateError as exc:  # moved meanwhile (reconcile, stop): its writer wins
            log.debug("health of %s/%s not written: %s", agent.ticket, agent.name, exc)
            status = store.get_agent(agent.run_id, agent.ticket, agent.name).status
        last_activity = activity if activity is not None else agent.last_activity_at
        last_progress = progress if progress is not None else agent.last_progress_at
        return AgentHealth(agent.run_id, agent.ticket, agent.name, health, status, reason, True,
                           last_activity, last_progress,
                           a_age if a_age is not None else self._age(last_activity),
                           p_age if p_age is not None else self._age(last_progress),
                           exit_status if exit_status is not None else agent.exit_status)

    def _move(self, agent: Agent, target: str, reason: str) -> str:
        """Walk the machine to `target` (stalled → idle goes through running)."""
        current = agent.status
        path = [target] if can_transition("agent", current, target) else ["running", target]
        for state in path:
            if current != state and can_transition("agent", current, state):
                current = self.eng.store.transition_agent(agent.run_id, agent.ticket, agent.name, state,
                                                          f"health: {reason}").status
        return current

    def _pane_hash(self, session: str) -> str | None:
        text = self.captured.get(session)
        if text is None:
            try:
                text = self.eng.runtime.capture(session, CAPTURE_LINES)
            except MetawsmError:
                return None
        return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]

    def _last_commit(self, workspace: str) -> float:
        from metawsm.runtime import git

        try:
            return git.last_commit_time(workspace) or 0.0
        except MetawsmError:
            return 0.0


def evaluate_run(eng: Engine, run_id: str, *, agents: list[Agent] | None = None,
                 signals: Mapping[str, AgentSignals] | None = None, workspaces: Mapping[str, str] | None = None,
                 panes: Mapping[str, SessionState] | None = None, now: float | None = None,
                 hooks: Mapping[str, HookEvent] | None = None) -> list[AgentHealth]:
    """Evaluate (and record) the health of one run's agents. Panes come from `eng.sessions()` (cached: call
    `eng.forget_sessions()` before a round over several runs, so the Runtime is asked once and freshly)."""
    agents = eng.store.list_agents(run_id) if agents is None else agents
    if not any(a.status in EVALUATED for a in agents):
        return recorded_health(eng, agents)
    if signals is None:
        signals = run_signals(eng, run_id)
    if workspaces is None:
        workspaces = workspace_paths(eng.store.list_steps(run_id))
    from metawsm.engine.locking import try_operation

    with try_operation(eng, run_id, "status") as held:
        if held:  # what is written is judged on the state under the lease, not on a view read before it
            before, agents = agents, _current(eng, run_id, agents)
            if any((a.attempt, a.status) != (b.attempt, b.status) for a, b in zip(agents, before, strict=True)):
                signals, hooks = run_signals(eng, run_id), None  # a new attempt's signals came after the read
            if panes is None and eng.stale_for(a for a in agents if a.status in EVALUATED):
                eng.forget_sessions()
        ev = _Evaluator(eng, eng.sessions() if panes is None else panes, now or eng.clock(), write=held)
        if any(a.status in EVALUATED and _ended(ev.panes.get(a.session)) for a in agents):
            # an attempt may signal completion and end between the caller's read of the signals and this view of
            # the sessions: a session seen ended is judged on signals read after it was seen so
            signals = run_signals(eng, run_id)
        idle = [a.session for a in agents if ev.needs_capture(a)]
        if len(idle) > 1:  # one batched capture of every idle-looking session, not one call each
            try:
                ev.captured = eng.runtime.capture_many(idle, CAPTURE_LINES)
            except MetawsmError:
                ev.captured = {}
        if hooks is None:
            hooks = run_hook_events(eng, run_id)
        return [ev.agent(a, signals.get(key := eng.agent_key(a.ticket, a.name)), workspaces.get(a.ticket),
                         hooks.get(key)) for a in agents]


def _ended(pane: SessionState | None) -> bool:
    return pane is None or pane.dead


def _current(eng: Engine, run_id: str, agents: list[Agent]) -> list[Agent]:
    """`agents` as they are now (same order): a caller may have listed them before the run's lease was taken,
    and a restart meanwhile started another attempt (its health must not be written from the old one's)."""
    rows = {(a.ticket, a.name): a for a in eng.store.list_agents(run_id)}
    return [rows.get((a.ticket, a.name), a) for a in agents]


def recorded_health(eng: Engine, agents: list[Agent], reason: str | None = None) -> list[AgentHealth]:
    """The health last recorded for `agents`, without looking at the Runtime, the forum or git (`reason` is
    empty for agents that are not evaluated: pending, stopping, stopped, failed, dead)."""
    ev = _Evaluator(eng, {}, eng.clock())
    return [ev._static(a, reason or "") for a in agents]
