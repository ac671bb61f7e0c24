"""The daemon's background worker: every `server.reconcile_interval` seconds, one tick — `reconcile`
for each active run and one health evaluation of their agents (one tmux query); with `--operator`
the tick is the operator's (`Operator.tick`: reconcile, health, rules, actions). Ticks run in a
thread; shutdown waits for the current one to finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from metawsm.forum.ids import now as stamp

log = logging.getLogger(__name__)

DEGRADED_AFTER = 3  # consecutive failed ticks before /health says degraded


@dataclass
class Worker:
    project: Any
    policy: Any
    forum: Any
    interval: float
    operator: bool = False
    started_at: str | None = None
    last_tick_at: str | None = None
    last_tick_seconds: float | None = None
    ticks: int = 0
    failed_ticks: int = 0
    consecutive_errors: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    runs_reconciled: int = 0
    idle_ticks: int = 0  # ticks with no active run
    last_processed_at: str | None = None  # the last tick that reconciled a run
    operator_decisions: int = 0
    last_decisions: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    reconcile_errors: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=20))
    _engine: Any = None
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event | None = None
    _stopping: bool = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.started_at = stamp()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="reconcile-worker")

    def wake(self) -> None:
        """Run the next tick now (after a signal or a lifecycle action)."""
        if self._wake is not None:
            with contextlib.suppress(RuntimeError):
                self._wake.set()

    async def stop(self) -> None:
        """Stop after the current tick (never in the middle of one)."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task
        if self._engine is not None:
            self._engine.close()

    async def _loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            await asyncio.to_thread(self.tick)
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    # -- one tick -------------------------------------------------------------------------------
    def engine(self) -> Any:
        if self._engine is None:
            from metawsm.engine.context import Engine

            self._engine = Engine.open(self.project, self.policy)
            self._engine.forum = self.forum
        return self._engine

    def tick(self) -> None:
        t0 = time.perf_counter()
        failed: str | None = None
        try:
            eng = self.engine()
            if eng.has_state():
                if self.operator:
                    self._operate(eng)
                else:
                    failed = self._reconcile_all(eng)
        except Exception as exc:
            log.exception("worker tick failed")
            failed = f"{type(exc).__name__}: {exc}"
            if self._engine is not None:  # start the next tick with fresh connections
                with contextlib.suppress(Exception):
                    self._engine.close()
                self._engine = None
        self.ticks += 1
        self.last_tick_at = stamp()
        self.last_tick_seconds = round(time.perf_counter() - t0, 4)
        if failed:
            self.failed_ticks += 1
            self.consecutive_errors += 1
            self.last_error, self.last_error_at = failed, self.last_tick_at
        else:
            self.consecutive_errors = 0

    def _reconcile_all(self, eng: Any) -> str | None:
        from metawsm.engine.autoreview import reconcile_and_iterate as reconcile
        from metawsm.engine.locking import LeaseBusy, operation
        from metawsm.engine.snapshot import build_snapshots
        from metawsm.errors import MetawsmError
        from metawsm.state.machines import ACTIVE_RUN_STATES

        runs = eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES))
        failed = None
        if not runs:
            self.idle_ticks += 1
        else:
            self.last_processed_at = stamp()
        for run in runs:
            try:
                with operation(eng, run.run_id, "serve"):
                    reconcile(eng, run.run_id)
                self.runs_reconciled += 1
            except LeaseBusy as exc:  # another command is changing it: the next tick looks again
                log.info("worker: %s; reconciling it again next tick", exc.message)
            except MetawsmError as exc:  # one run's trouble must not stop the others
                failed = f"{run.run_id}: {exc.message}"
                self.reconcile_errors.append({"run_id": run.run_id, "error": exc.message, "at": stamp()})
        still = eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES)) if runs else []
        if still:
            build_snapshots(eng, still)  # evaluates and records agent health (one tmux query)
        return failed

    def _operate(self, eng: Any) -> None:
        """One operator tick (it reconciles and evaluates health itself)."""
        from metawsm.operator.loop import Operator

        for d in Operator(eng).tick():
            self.operator_decisions += 1
            self.last_decisions.append({"at": stamp(), **d.to_json()})

    # -- reporting --------------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        return self.consecutive_errors >= DEGRADED_AFTER

    def snapshot(self) -> dict[str, Any]:
        return {
            "running": self._task is not None and not self._task.done(), "started_at": self.started_at,
            "interval_seconds": self.interval, "last_tick_at": self.last_tick_at,
            "last_tick_seconds": self.last_tick_seconds, "ticks": self.ticks, "failed_ticks": self.failed_ticks,
            "consecutive_errors": self.consecutive_errors, "last_error": self.last_error,
            "last_error_at": self.last_error_at, "runs_reconciled": self.runs_reconciled,
            "operator": self.operator, "operator_decisions": self.operator_decisions,
            "last_decisions": list(self.last_decisions),
            # the Go server's worker fields (its "bus" is this worker, its "outbox" the forum index:
            # see /api/v1/forum/debug); total_processed counts reconciled runs, total_batches ticks
            "last_processed_at": self.last_processed_at, "total_processed": self.runs_reconciled,
            "total_batches": self.ticks, "idle_batches": self.idle_ticks, "bus_healthy": not self.degraded,
            "bus_error": self.last_error if self.degraded else None,
            "outbox": {"pending_count": 0, "processing_count": 0, "failed_count": 0,
                       "oldest_pending_age_seconds": 0},
        }
