"""`/api/v1/runs…` and `/api/v1/gate`: run snapshots read from state (agent health as the worker last
evaluated it — no tmux probe per request), stop / resume / restart, and the close gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Query, Request

from metawsm.engine.context import Engine
from metawsm.errors import NotFoundError
from metawsm.server import models as m

router = APIRouter(prefix="/api/v1", tags=["runs"])


@contextmanager
def engine(request: Request) -> Iterator[Engine]:
    """An Engine for one request, sharing the daemon's Forum; its state connection is closed after."""
    state = request.app.state
    eng = Engine.open(state.project, state.policy)
    eng.forum = state.forum  # type: ignore[misc]
    try:
        yield eng
    finally:
        eng.close()


def _snapshots(eng: Engine, runs: list[Any]) -> list[dict[str, Any]]:
    from metawsm.engine.snapshot import build_snapshots
    from metawsm.server.go_runs import add_go_fields

    return [add_go_fields(s.to_json()) for s in build_snapshots(eng, runs, evaluate_health=False)]


def _snapshot(eng: Engine, run_id: str) -> dict[str, Any]:
    return _snapshots(eng, [_get_run(eng, run_id)])[0]


def _get_run(eng: Engine, run_id: str) -> Any:
    if not eng.has_state():
        raise NotFoundError(f"run {run_id} not found", hint="nothing has been applied in this repository yet")
    return eng.store.get_run(run_id)


def _has_ticket(run: Any, ticket: str) -> bool:
    from metawsm.plan.graph import StepGraph

    want = ticket.casefold()
    return any(t.casefold() == want for t in StepGraph.from_json(json.loads(run.graph_json)).tickets)


@router.get("/runs", response_model=m.RunsOut)
def list_runs(request: Request, ticket: str | None = Query(None, description="runs with this ticket "
                                                           "(case-insensitive)"),
              active: bool = Query(False, description="only the active runs (not closed, stopped or failed)"),
              all: bool = Query(True, description="accepted for compatibility: every run is listed by default"),
              ) -> dict[str, Any]:
    """Every run (as the Go server), newest first, or only the active ones with active=1; a ticket
    without runs gives []."""
    from metawsm.engine.selection import select_runs

    with engine(request) as eng:
        runs = select_runs(eng, include_finished=not active)
        if ticket:
            runs = [r for r in runs if _has_ticket(r, ticket)]
        return {"runs": _snapshots(eng, runs)}


@router.get("/runs/{run_id}", response_model=m.RunOut, responses=m.errors(404))
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    """One run: steps, agents with health, pending questions, escalations and gates."""
    with engine(request) as eng:
        return {"run": _snapshot(eng, run_id)}


def _act(request: Request, run_id: str, action: Any) -> dict[str, Any]:
    with engine(request) as eng:
        result = action(eng, _get_run(eng, run_id))
        request.app.state.worker.wake()
        return {"result": result.to_json(), "run": _snapshot(eng, run_id)}


@router.post("/runs/{run_id}/stop", response_model=m.ActionResultOut, responses=m.errors(404, 409))
def stop(request: Request, run_id: str) -> dict[str, Any]:
    """Stop the run: running steps stopped, agents stopped, tmux sessions killed (worktrees kept)."""
    from metawsm.engine.lifecycle import stop_run

    return _act(request, run_id, stop_run)


@router.post("/runs/{run_id}/resume", response_model=m.ActionResultOut, responses=m.errors(404, 409))
def resume(request: Request, run_id: str) -> dict[str, Any]:
    """Resume a stopped or failed run: failed steps run again."""
    from metawsm.engine.lifecycle import resume_run

    return _act(request, run_id, resume_run)


@router.post("/runs/{run_id}/restart", response_model=m.ActionResultOut, responses=m.errors(400, 404, 409))
def restart(request: Request, run_id: str, body: m.RestartBody | None = None) -> dict[str, Any]:
    """A new attempt for the run's agents (or one agent); the steps after them run again."""
    from metawsm.engine.lifecycle import restart_agents

    agent = body.agent if body else None
    reason = (body.reason if body else None) or "restarted by a person"
    return _act(request, run_id, lambda eng, run: restart_agents(eng, run, agent=agent, reason=reason))


@router.get("/gate", response_model=m.GatesOut, responses=m.errors(404))
def gate(request: Request, ticket: str | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Evaluate the close gate of every open ticket of the active runs (or one ticket / run), check by
    check. A refused gate is a result (passed: false), not an error."""
    from metawsm.engine.selection import select_runs
    from metawsm.gate.evaluate import evaluate
    from metawsm.plan.graph import StepGraph

    with engine(request) as eng:
        if not eng.has_state():
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        results = []
        for r in select_runs(eng, run_id=run_id or None, ticket=ticket or None):
            closed = eng.store.closed_tickets(r.run_id)
            for t in StepGraph.from_json(json.loads(r.graph_json)).tickets:
                if (not ticket or t == ticket) and t not in closed:
                    results.append(evaluate(eng, r, t))
        return {"gates": [g.to_json() for g in results], "passed": all(g.passed for g in results)}
