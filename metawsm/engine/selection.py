"""Which runs a command looks at — one definition for the CLI, the daemon and the web UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.errors import NotFoundError
from metawsm.state.machines import ACTIVE_RUN_STATES

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run


def select_runs(eng: Engine, *, run_id: str | None = None, ticket: str | None = None,
                include_finished: bool = False) -> list[Run]:
    """The runs a command looks at: one run (NotFoundError if unknown), a ticket's runs, or — by default —
    the active runs only (`include_finished` adds closed/stopped/failed ones). Newest first."""
    if not eng.has_state():
        if run_id or ticket:
            raise NotFoundError(f"run {run_id} not found" if run_id else f"no run has ticket {ticket}",
                                hint="nothing has been applied in this repository yet (`metawsm apply`)")
        return []
    statuses = None if include_finished else sorted(ACTIVE_RUN_STATES)
    if run_id:
        run = eng.store.get_run(run_id)  # NotFoundError names the run
        if ticket and run_id not in {r.run_id for r in eng.store.list_runs(ticket=ticket)}:
            raise NotFoundError(f"run {run_id} has no ticket {ticket}")
        return [run]
    if ticket:
        runs = eng.store.list_runs(status_in=statuses, ticket=ticket)
        if not runs and not eng.store.list_runs(ticket=ticket, limit=1):
            raise NotFoundError(f"no run has ticket {ticket}", hint="`metawsm status --all` lists every run")
        return runs
    return eng.store.list_runs(status_in=statuses)
