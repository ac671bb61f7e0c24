"""`reconcile(run)`: the only code that advances a run.

One pass, under the run's lease: poll running steps, retry failed ones whose backoff has passed, start
ready steps (needs done) up to `execution.max_parallel`, repeat while anything moved, then derive the
run's status (complete, failed, awaiting_guidance or running). Safe to call from many processes at once:
inside an operation on the run (engine/locking.py) it runs under that lease; otherwise a pass that cannot
take the lease at once returns with `busy=True` (its caller retries, or says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine.kinds import Outcome, StepRef
from metawsm.engine.kinds.base import Immediate
from metawsm.engine.locking import try_operation
from metawsm.engine.registry import REGISTRY
from metawsm.errors import MetawsmError
from metawsm.plan.graph import StepGraph
from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run, Step

RECONCILABLE = frozenset({"running", "awaiting_guidance"})
SATISFIED = frozenset({"done", "skipped"})


@dataclass
class StepEvent:
    step_id: str
    status: str
    message: str = ""

    def to_json(self) -> dict[str, str]:
        return {"step_id": self.step_id, "status": self.status, "message": self.message}


@dataclass
class ReconcileResult:
    run_id: str
    status: str
    busy: bool = False
    events: list[StepEvent] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # agent keys with a pending question

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "busy": self.busy,
                "events": [e.to_json() for e in self.events], "waiting": self.waiting}


def backoff_seconds(eng: Engine, attempts: int) -> float:
    b = eng.policy.execution.backoff
    return float(min(b.initial_seconds * b.multiplier ** max(attempts - 1, 0), b.max_seconds))


class _Pass:
    def __init__(self, eng: Engine, run: Run, max_parallel: int) -> None:
        self.eng, self.run, self.max_parallel = eng, run, max_parallel
        self.graph = StepGraph.from_json(json.loads(run.graph_json))
        self.rows: dict[str, Step] = {s.step_id: s for s in eng.store.list_steps(run.run_id)}
        self.events: list[StepEvent] = []
        self.waiting: set[str] = set()
        self.queued: set[str] = set()  # step ids waiting for a backend slot (seen by this pass)

    def running(self) -> int:
        """Running steps that hold a max_parallel slot: an agent blocked in `metawsm ask` (waiting for a
        person, seen by this pass's poll) does not, nor a session queued for a slot of its backend (an ssh host
        that is full); an agent waiting on `needs` is still pending."""
        return sum(1 for s in self.graph.steps if self.rows[s.id].status == "running" and s.id not in self.queued
                   and not (s.agent and s.ticket and self.eng.agent_key(s.ticket, s.agent) in self.waiting))

    def ready(self, step_id: str) -> bool:
        return all(self.rows[n].status in SATISFIED for n in self.graph.by_id[step_id].needs)

    def record(self, row: Step, outcome: Outcome) -> bool:
        """Write an outcome; True when the step left `running`."""
        store, sid = self.eng.store, row.step_id
        if outcome.status == "running":
            if outcome.waiting and row.ticket and row.agent:
                self.waiting.add(self.eng.agent_key(row.ticket, row.agent))
            if outcome.queued:
                self.queued.add(sid)
            else:
                self.queued.discard(sid)
            note = outcome.note if outcome.queued else None
            if self.rows[sid].note != note:  # why it waits, for `status` (cleared by its next transition)
                self.rows[sid] = store.note_step(self.run.run_id, sid, note)
            return False
        self.queued.discard(sid)
        if outcome.status == "done":
            self.rows[sid] = store.transition_step(self.run.run_id, sid, "done", outcome.note or "",
                                                   output_log=outcome.output_log)
            self.events.append(StepEvent(sid, "done", outcome.note or ""))
            return True
        retries = self.graph.by_id[sid].retries
        retry_at = self.eng.clock() + backoff_seconds(self.eng, row.attempts) if row.attempts <= retries else None
        self.rows[sid] = store.transition_step(self.run.run_id, sid, "failed", "failed", error=outcome.error,
                                               output_log=outcome.output_log, next_attempt_at=retry_at)
        suffix = f" (retry {row.attempts}/{retries} scheduled)" if retry_at is not None else ""
        self.events.append(StepEvent(sid, "failed", (outcome.error or "") + suffix))
        return True

    def start(self, row: Step, reason: str) -> bool:
        sid = row.step_id
        kind = REGISTRY.get(row.kind)
        row = self.eng.store.transition_step(self.run.run_id, sid, "running", reason)
        self.rows[sid] = row
        if kind is None:
            outcome = Outcome.failed(f"unknown step kind {row.kind!r}")
        else:
            try:
                outcome = kind.start(self.eng, StepRef(self.run, row))
            except MetawsmError as exc:
                outcome = Outcome.failed(exc.message)
        if outcome.status == "running":
            self.events.append(StepEvent(sid, "running", outcome.note or reason))
        self.record(row, outcome)
        return True

    def poll_all(self) -> bool:
        moved = False
        for step in self.graph.steps:
            row = self.rows[step.id]
            if row.status != "running":
                continue
            kind = REGISTRY.get(row.kind)
            try:
                outcome = kind.poll(self.eng, StepRef(self.run, row)) if kind else Outcome.failed("unknown kind")
            except MetawsmError as exc:
                outcome = Outcome.failed(exc.message)
            moved |= self.record(row, outcome)
        return moved

    def start_batch(self, kind_name: str, items: list[tuple[Step, str]]) -> bool:
        """Start ready steps of one kind together through the kind's `start_many` (e.g. all sessions of a
        round with one Runtime call per batch instead of two per session). The steps are marked running
        right after the batch (not before it, so a crash leaves no step running whose agent never started
        for longer than those writes); a crash before the marks re-runs them, and every kind adopts."""
        kind: Any = REGISTRY[kind_name]  # a kind with the optional start_many(eng, refs) -> list[Outcome]
        try:
            outcomes = kind.start_many(self.eng, [StepRef(self.run, row) for row, _ in items])
        except MetawsmError as exc:
            outcomes = [Outcome.failed(exc.message)] * len(items)
        started = []
        for row, reason in items:
            row = self.eng.store.transition_step(self.run.run_id, row.step_id, "running", reason)
            self.rows[row.step_id] = row
            started.append((row, reason))
        for (row, reason), outcome in zip(started, outcomes, strict=True):
            if outcome.status == "running":
                self.events.append(StepEvent(row.step_id, "running", outcome.note or reason))
            self.record(row, outcome)
        return bool(started)

    def start_ready(self) -> bool:
        moved = False
        now = self.eng.clock()
        batches: dict[str, list[tuple[Step, str]]] = {}  # kinds with start_many start after the loop
        held = 0  # batched steps that will keep running (they count against max_parallel)
        for step in self.graph.steps:
            if self.running() + held >= self.max_parallel:
                break
            row = self.rows[step.id]
            if row.status == "pending" and self.ready(step.id):
                reason = "needs satisfied"
            elif (row.status == "failed" and row.attempts <= step.retries and row.next_attempt_at is not None
                  and row.next_attempt_at <= now and self.ready(step.id)):
                reason = f"retry {row.attempts}/{step.retries}"
            else:
                continue
            kind = REGISTRY.get(row.kind)
            if kind is not None and hasattr(kind, "start_many"):
                batches.setdefault(row.kind, []).append((row, reason))
                held += not isinstance(kind, Immediate)
            else:
                moved |= self.start(row, reason)
        for kind_name, items in batches.items():
            moved |= self.start_batch(kind_name, items)
        return moved

    def derive_status(self) -> str:
        from metawsm.engine.tickets import run_status

        return run_status(self.rows, self.graph, waiting=bool(self.waiting))


def _move_run(eng: Engine, run: Run, status: str) -> Run:
    path = [status] if can_transition("run", run.status, status) else ["running", status]
    for target in path:
        if run.status != target and can_transition("run", run.status, target):
            run = eng.store.transition_run(run.run_id, target, f"reconcile: {target}")
    return run


def reconcile(eng: Engine, run_id: str, *, max_parallel: int | None = None) -> ReconcileResult:
    with try_operation(eng, run_id, "reconcile") as held:
        if not held:
            return ReconcileResult(run_id, eng.store.get_run(run_id).status, busy=True)
        run = eng.store.get_run(run_id)
        if run.status not in RECONCILABLE:
            return ReconcileResult(run_id, run.status)
        p = _Pass(eng, run, max_parallel or eng.policy.execution.max_parallel)
        for _ in range(4 * len(p.graph.steps) + 2):  # each round moves at least one step, or stops
            eng.forget_sessions()
            moved = p.poll_all()
            moved |= p.start_ready()
            if not moved:
                break
        run = _move_run(eng, eng.store.get_run(run_id), p.derive_status())
        from metawsm.engine.tickets import close_run_if_done, drop_from_graph, sync_tickets

        for ticket, state in sync_tickets(eng, run, p.rows.values()).items():
            if state == "merged":  # closed by a close:T step (auto_close) during this pass
                run = drop_from_graph(eng, run, ticket)
        run = close_run_if_done(eng, run)  # auto_close merged them all?
        return ReconcileResult(run_id, run.status, events=p.events, waiting=sorted(p.waiting))
