"""One operator tick over the active runs: reconcile, evaluate health, apply the rules (and the LLM's
advice when configured), act within the persisted limits, and return every decision taken.

A tick makes one batched Runtime query for the health of all runs' agents (plus reconcile's own), one
forum query per run for its control signals, and reads/writes the operator's counters only where they
change. `run_forever` repeats ticks until asked to stop (the CLI's signal handlers set the event), so a
stop always falls between ticks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from metawsm.engine.health import evaluate_run, run_signals, workspace_paths
from metawsm.engine.hookstate import run_hook_events
from metawsm.errors import MetawsmError
from metawsm.operator import llm as llm_mod
from metawsm.operator.budget import Ledger
from metawsm.operator.escalate import ACTOR, escalate, escalation_text, note
from metawsm.operator.rules import (
    ANSWER,
    ESCALATE,
    LIVE,
    OPERATED,
    RESTART,
    STOP,
    WAIT,
    AgentView,
    Decision,
    decide_agent,
    input_wait,
    restart_blocker,
    stale_candidate,
)
from metawsm.state.machines import ACTIVE_RUN_STATES

if TYPE_CHECKING:
    from metawsm.config.models import LLMPolicy
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

log = logging.getLogger(__name__)

MODES = ("off", "assist", "auto")


def llm_policy(base: LLMPolicy, mode: str | None) -> LLMPolicy:
    """The policy's LLM settings with `mode` (e.g. --llm-mode) applied; UsageError when it cannot work."""
    from metawsm.errors import UsageError

    llm = base if mode is None else replace(base, mode=mode)
    if llm.mode not in MODES:
        raise UsageError(f"unknown LLM mode {llm.mode!r}; modes: {', '.join(MODES)}")
    if llm.mode != "off" and not llm.command.strip():
        raise UsageError(f"LLM mode {llm.mode!r} needs operator.llm.command in the policy",
                         hint="set operator.llm.command in .metawsm/policy.yaml, or use --llm-mode off")
    return llm


class Operator:
    """The supervision loop's state between ticks is all in state.db; this object only holds settings."""

    def __init__(self, eng: Engine, *, run_id: str | None = None, dry_run: bool = False,
                 llm_mode: str | None = None) -> None:
        self.eng, self.run_id, self.dry_run = eng, run_id, dry_run
        self.llm = llm_policy(eng.policy.operator.llm, llm_mode)
        self.ledger = Ledger(eng.store, dry_run=dry_run)

    # -- ticks ------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        if self.run_id:
            return [self.eng.store.get_run(self.run_id)]
        return self.eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES | OPERATED))

    def tick(self) -> list[Decision]:
        """Per run, one operation under its lease: reconcile, health, rules, actions. A run whose lease another
        command keeps past the lock timeout is looked at again next tick (and the log says so)."""
        from metawsm.engine.autoreview import reconcile_and_iterate as reconcile
        from metawsm.engine.locking import LeaseBusy, operation
        from metawsm.engine.reconcile import RECONCILABLE

        self.eng.forget_sessions()  # one fresh Runtime query, shared by the runs below unless reconcile moved
        decisions: list[Decision] = []
        for run in self.runs():
            try:
                with operation(self.eng, run.run_id, "operator"):
                    if not self.dry_run and self.eng.store.get_run(run.run_id).status in RECONCILABLE:
                        reconcile(self.eng, run.run_id)
                    decisions += self.tick_run(run.run_id)
            except LeaseBusy as exc:
                log.info("operator: %s; looking at it again next tick", exc.message)
        self.eng.forget_sessions()
        return decisions

    def run_forever(self, interval: float, on_decision: Callable[[Decision], None],
                    stop: threading.Event, *, on_tick: Callable[[int], None] | None = None) -> int:
        """Tick every `interval` seconds until `stop` is set; returns the number of ticks."""
        ticks = 0
        while not stop.is_set():
            try:
                decisions = self.tick()
            except MetawsmError as exc:  # e.g. a locked database: the supervisor itself keeps going
                log.warning("operator tick failed, trying again in %gs: %s", interval, exc.message)
                decisions = []
            for d in decisions:
                on_decision(d)
            ticks += 1
            if on_tick is not None:
                on_tick(ticks)
            stop.wait(interval)
        return ticks

    def tick_run(self, run_id: str) -> list[Decision]:
        eng, store = self.eng, self.eng.store
        run = store.get_run(run_id)
        steps = store.list_steps(run_id)
        done = {(s.ticket, s.agent) for s in steps if s.kind == "agent" and s.status == "done"}
        if run.status not in OPERATED:
            for a in store.list_agents(run_id):
                if (a.ticket, a.name) in done:
                    self.ledger.completed(self.ledger.get(run_id, a.ticket, a.name))
            return []
        agents = store.list_agents(run_id)
        if not agents:
            return []
        signals = run_signals(eng, run_id)
        hooks = run_hook_events(eng, run_id)  # what the AI CLIs' own hooks last said (engine/hookstate.py)
        healths = evaluate_run(eng, run_id, agents=agents, signals=signals, workspaces=workspace_paths(steps),
                               hooks=hooks)
        fresh = {(a.ticket, a.name): a for a in store.list_agents(run_id)}
        now = eng.clock()
        views: list[AgentView] = []
        for h in healths:
            agent = fresh[(h.ticket, h.agent)]
            key = eng.agent_key(agent.ticket, agent.name)
            completed = (agent.ticket, agent.name) in done
            led = self.ledger.get(run_id, agent.ticket, agent.name)
            if completed:
                led = self.ledger.completed(led)
            else:
                led = self.ledger.observe(led, h.unhealthy and not agent.stopped_by_user)
            sig = signals.get(key)
            control = sig.state(agent.attempt) if sig else None
            age = None
            if control and control.question_event_seq is not None and agent.status in LIVE:
                age = self._question_age(control.question_event_seq, now)
            views.append(AgentView(agent, h, led, control, completed, age, input_wait(hooks.get(key), agent)))
        stale = stale_candidate(run, views, eng.policy, now)
        if stale:
            return [self._stop(run, views, stale)]
        decisions: list[Decision] = []
        for view in views:
            decisions += self._agent(run, view, decide_agent(view, eng.policy, now))
        return decisions

    def _question_age(self, seq: int, now: float) -> float | None:
        from metawsm.forum import ids

        events, _ = self.eng.forum.events(seq - 1, 1)
        if not events or events[0].sequence != seq:
            return None
        return max(now - ids.parse_time(events[0].occurred_at).timestamp(), 0.0)

    # -- one agent: rules, then the adviser ---------------------------------------------------
    def _agent(self, run: Run, view: AgentView, rule: Decision | None) -> list[Decision]:
        asking = view.question_seq is not None and view.agent.status in LIVE
        fired = rule is not None and rule.act
        out: list[Decision] = []
        advice = None
        if self.llm.mode != "off" and (fired or (asking and not view.ledger.alerted("llm_question",
                                                                                      view.question_seq))):
            advice = llm_mod.consult(self.llm, self.situation(run, view, rule), cwd=str(self.eng.project.root))
            if asking:
                view = replace(view, ledger=self.ledger.alert(view.ledger, "llm_question", view.question_seq))
        if advice is not None and self.llm.mode == "assist":
            out.append(self._advise(view, advice, rule))
        elif advice is not None:  # auto
            taken, rule = self._auto(run, view, advice, rule)
            out += taken
        if rule is not None:
            out.append(self._execute(run, view, rule))
        return out

    def _auto(self, run: Run, view: AgentView, advice: llm_mod.Advice,
              rule: Decision | None) -> tuple[list[Decision], Decision | None]:
        """The adviser's decision inside the same limits; returns (its decisions, the rule decision that
        still stands, if any)."""
        why = f"llm: {advice.reason or advice.intent} (confidence {advice.confidence:.2f}; rules: " \
              f"{rule.intent if rule else 'nothing'})"
        base = self._llm_decision(view, advice, why)
        if advice.intent == WAIT:
            if rule is not None and rule.intent == RESTART:
                return [base], None  # the restart waits; the rules ask again on the next tick
            if rule is not None and rule.intent == ESCALATE:
                return [replace(base, reason=why + " — not adopted: escalations are never held back")], rule
            return [base], rule
        if advice.intent == RESTART:
            blocker = restart_blocker(view, self.eng.policy, self.eng.clock())
            if blocker:
                return [replace(base, reason=f"{why} — refused: {blocker}")], rule
            return [self._restart(run, view, replace(base, act=True))], None
        if advice.intent == ESCALATE:
            if rule is not None and rule.intent == ESCALATE:
                return [self._escalate(run, view, replace(rule, source="llm", reason=f"{rule.reason}; {why}"))], None
            dedupe = f"{view.agent.attempt}:{view.question_seq or 0}"
            if view.ledger.alerted("llm", dedupe):
                return [replace(base, reason=f"{why} — already escalated")], rule
            esc = replace(base, act=True, kind="llm", detail={**base.detail, "dedupe": dedupe})
            return [self._escalate(run, view, esc)], None  # the adviser chose a human over a restart
        # answer
        refusal = None
        if view.question_seq is None or view.agent.status not in LIVE:
            refusal = "no pending question"
        elif not advice.answer:
            refusal = "no answer given"
        elif advice.confidence < self.llm.min_confidence:
            refusal = f"confidence {advice.confidence:.2f} below operator.llm.min_confidence " \
                      f"{self.llm.min_confidence:.2f}"
        if refusal:
            return [replace(base, reason=f"{why} — refused: {refusal}")], rule
        taken = self._answer(view, replace(base, act=True))
        if rule is not None and rule.intent == ESCALATE and rule.kind == "guidance":
            return [taken], None  # answered: nothing left to escalate
        return [taken], rule

    def _llm_decision(self, view: AgentView, advice: llm_mod.Advice, reason: str) -> Decision:
        a = view.agent
        detail: dict[str, Any] = {"confidence": advice.confidence}
        if advice.answer:
            detail["answer"] = advice.answer
        return Decision("llm", advice.intent, a.run_id, reason, a.ticket, a.name, a.attempt, detail=detail)

    def situation(self, run: Run, view: AgentView, rule: Decision | None) -> dict[str, Any]:
        """The JSON the LLM command reads on stdin (docs/operator.md)."""
        a, h, led, op = view.agent, view.health, view.ledger, self.eng.policy.operator
        lines: list[str] = []
        if a.session:
            try:
                lines = self.eng.runtime.capture(a.session, llm_mod.PANE_LINES).splitlines()
            except MetawsmError:
                lines = []
        now = self.eng.clock()
        question = None
        if view.pending_question is not None:
            question = {"question": view.pending_question, "thread_id": view.control.pending_thread_id
                        if view.control else None,
                        "waiting_seconds": round(view.question_age, 1) if view.question_age is not None else None}
        return {
            "schema_version": llm_mod.SITUATION_VERSION, "mode": self.llm.mode,
            "run_id": run.run_id, "run_status": run.status, "plan": run.plan_name,
            "ticket": a.ticket, "agent": a.name, "agent_key": view.key, "attempt": a.attempt,
            "health": {"status": h.status, "health": h.health, "reason": h.reason,
                       "activity_age_seconds": _round(h.activity_age), "progress_age_seconds": _round(h.progress_age),
                       "exit_status": h.exit_status, "unhealthy_ticks": led.consecutive_unhealthy},
            "restart_attempts": led.restart_attempts, "restart_budget": op.restart_budget,
            "attempts_left": max(op.restart_budget - led.restart_attempts, 0),
            "cooldown_remaining_seconds": max(round((led.cooldown_until or 0) - now, 1), 0),
            "stopped_by_user": a.stopped_by_user, "completed": view.completed,
            "pane_tail": lines, "pending_question": question,
            "rule_decision": ({"intent": rule.intent, "kind": rule.kind, "reason": rule.reason} if rule
                              else {"intent": WAIT, "kind": None, "reason": "no rule fired"}),
            "allowed_intents": list(llm_mod.INTENTS), "min_confidence": self.llm.min_confidence,
        }

    # -- actions ----------------------------------------------------------------------------
    def _execute(self, run: Run, view: AgentView, d: Decision) -> Decision:
        if d.intent == RESTART:
            return self._restart(run, view, d)
        if d.intent == ESCALATE:
            return self._escalate(run, view, d)
        return d

    def _not_now(self, d: Decision) -> Decision | None:
        if self.dry_run:
            return replace(d, detail={**d.detail, "dry_run": True})
        return None

    def _restart(self, run: Run, view: AgentView, d: Decision) -> Decision:
        from metawsm.engine.lifecycle import restart_agents

        store, a = self.eng.store, view.agent
        current = store.get_agent(a.run_id, a.ticket, a.name)
        if current.attempt != a.attempt or current.stopped_by_user:
            # someone (a person, the engine's retry, another operator) acted meanwhile: one live attempt
            return replace(d, reason=f"{d.reason} — skipped: agent is now {current.status}, attempt "
                                     f"{current.attempt}", detail={**d.detail, "skipped": True})
        skipped = self._not_now(d)
        if skipped:
            return skipped
        self.ledger.restarted(view.ledger, self.eng.clock(), self.eng.policy.operator.restart_cooldown_seconds)
        try:
            restart_agents(self.eng, store.get_run(run.run_id), agent=view.key, reason=f"operator: {d.reason}")
        except MetawsmError as exc:
            log.warning("restart of %s in %s failed: %s", view.key, run.run_id, exc.message)
            return replace(d, detail={**d.detail, "error": exc.message})
        after = store.get_agent(a.run_id, a.ticket, a.name)
        return replace(d, executed=True, detail={**d.detail, "new_attempt": after.attempt})

    def _escalate(self, run: Run, view: AgentView, d: Decision) -> Decision:
        a, key = view.agent, view.key
        kind = d.kind or "llm"
        dedupe: object = {"guidance": view.question_seq, "budget": a.attempt}.get(kind, d.detail.get("dedupe"))
        skipped = self._not_now(d)
        if skipped:
            return skipped
        title, body = escalation_text(self.eng, run, view, kind, d.reason)
        try:
            done = escalate(self.eng, run_id=run.run_id, ticket=a.ticket, agent_key=key, kind=kind, title=title,
                            body=body, dedupe=str(dedupe))
        except MetawsmError as exc:
            log.warning("escalation for %s in %s failed: %s", key, run.run_id, exc.message)
            return replace(d, detail={**d.detail, "error": exc.message})
        self.ledger.alert(view.ledger, kind, dedupe)
        detail = {**d.detail, "thread_id": done.thread_id}
        detail.pop("dedupe", None)
        return replace(d, executed=True, detail=detail)

    def _answer(self, view: AgentView, d: Decision) -> Decision:
        a = view.agent
        skipped = self._not_now(d)
        if skipped:
            return skipped
        forum = self.eng.forum
        try:
            event = forum.signal(a.run_id, a.ticket, view.key, a.attempt, "guidance_answer",
                                 answer=d.detail.get("answer"), actor_type="operator", actor_name=ACTOR)
        except MetawsmError as exc:
            log.warning("answer for %s in %s failed: %s", view.key, a.run_id, exc.message)
            return replace(d, detail={**d.detail, "error": exc.message})
        try:
            forum.set_state(event.thread_id, "answered", actor_type="operator", actor_name=ACTOR)
        except MetawsmError as exc:
            log.debug("control thread %s not marked answered: %s", event.thread_id, exc)
        return replace(d, intent=ANSWER, executed=True, detail={**d.detail, "thread_id": event.thread_id})

    def _advise(self, view: AgentView, advice: llm_mod.Advice, rule: Decision | None) -> Decision:
        a = view.agent
        rules_said = f"{rule.intent} ({rule.reason})" if rule else "nothing to do"
        body = (f"Operator adviser (assist mode) recommends: {advice.intent} — {advice.reason or 'no reason given'}"
                f" (confidence {advice.confidence:.2f}).\n"
                + (f"Proposed answer: {advice.answer}\n" if advice.answer else "")
                + f"The rules decided: {rules_said}. Nothing was done on this advice.")
        d = self._llm_decision(view, advice, f"assist: {advice.reason or advice.intent}; advice posted, not acted on")
        if self.dry_run:
            return replace(d, detail={**d.detail, "dry_run": True})
        try:
            tid = note(self.eng, run_id=a.run_id, ticket=a.ticket, agent_key=view.key, body=body)
        except MetawsmError as exc:
            log.warning("advice for %s in %s not posted: %s", view.key, a.run_id, exc.message)
            return replace(d, detail={**d.detail, "error": exc.message})
        return replace(d, detail={**d.detail, "thread_id": tid, "note_posted": True})

    def _stop(self, run: Run, views: list[AgentView], reason: str) -> Decision:
        from metawsm.engine.lifecycle import stop_run

        d = Decision("rules", STOP, run.run_id, reason, act=True)
        panes = self.eng.sessions(refresh=True)  # verify the evidence again, freshly
        for v in views:
            if v.completed or not v.agent.session:
                continue
            pane = panes.get(v.agent.session)
            if pane is not None and not pane.dead:
                return replace(d, intent=WAIT, act=False,
                               reason=f"stale candidate not verified: session {v.agent.session} of {v.key} is alive")
        skipped = self._not_now(d)
        if skipped:
            return skipped
        try:
            result = stop_run(self.eng, self.eng.store.get_run(run.run_id), reason=f"operator: stale run ({reason})")
        except MetawsmError as exc:
            log.warning("stop of stale run %s failed: %s", run.run_id, exc.message)
            return replace(d, detail={"error": exc.message})
        return replace(d, executed=True, detail={"status": result.status})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
