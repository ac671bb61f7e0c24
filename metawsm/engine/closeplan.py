"""Which tickets `metawsm close` acts on, and what to tell a person about the others (one line each, with the
command that moves the ticket on). Closing one ticket never waits for its siblings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metawsm.engine.tickets import effective, graph_of
from metawsm.errors import NotFoundError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

CLOSABLE = frozenset({"ready", "closing"})


@dataclass(frozen=True)
class Waiting:
    """A ticket close did not act on: its state, why, and the command that moves it on."""

    ticket: str
    run_id: str
    status: str
    reason: str
    next: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        return f"{self.ticket} ({self.status}): {self.reason} — next: {self.next}"


def run_for_ticket(eng: Engine, ticket: str) -> Run:
    """The run that works (or worked) on `ticket`: the one its state names, else its newest run."""
    state = eng.store.get_ticket(ticket)
    if state is not None and state.run_id:
        try:
            return eng.store.get_run(state.run_id)
        except NotFoundError:
            pass
    runs = [r for r in eng.store.list_runs(ticket=ticket) if ticket in graph_of(r).tickets]
    if not runs:
        raise NotFoundError(f"no run has ticket {ticket}", hint="`metawsm status --all` lists every run")
    return runs[0]


def next_command(status: str, ticket: str, plan: str, reason: str) -> tuple[str, str]:
    """(why, next command) for a ticket close leaves alone."""
    if status == "failed" and "review: reviewer " in reason and " requested changes " in reason:
        return reason, f"metawsm iterate {ticket} --feedback-file NOTE.md  (a new round with the reviewer's note)"
    return {
        "open": ("not started", f"metawsm apply {plan}"),
        "working": (reason or "its agents or checks are still running",
                    f"metawsm status --ticket {ticket}  (then metawsm close --ticket {ticket})"),
        "failed": (reason or "a step failed",
                   f"fix it on its branch, then metawsm apply {plan}  (re-runs only what failed)"),
        "in_review": (reason or "its pull request is open",
                      "metawsm pr --sync  (after the pull request is merged or closed)"),
        "merged": ("already merged", f"metawsm reopen {ticket}  (to work on it again)"),
        "abandoned": ("abandoned", f"metawsm reopen {ticket}"),
    }.get(status, (reason, f"metawsm status --ticket {ticket}"))


def select(eng: Engine, runs: list[Run], ticket: str | None) -> tuple[list[tuple[Run, str]], list[Waiting]]:
    """(run, ticket) pairs to close, and the tickets left alone with why. An explicit ticket is always tried
    (its gate decides); otherwise only `ready` ones (and interrupted `closing` ones) are."""
    if ticket is not None:
        return [(run_for_ticket(eng, ticket), ticket)], []
    todo: list[tuple[Run, str]] = []
    waiting: list[Waiting] = []
    seen: set[str] = set()
    for run in runs:
        tickets = graph_of(run).tickets
        for t, (status, reason, state) in effective(eng, run, tickets).items():
            if t in seen:
                continue
            seen.add(t)
            if state is not None and state.run_id not in (None, run.run_id) and status != "open":
                continue  # another run owns it; it is listed with that run
            if status in CLOSABLE:
                todo.append((run, t))
            elif status not in ("merged", "abandoned"):
                why, command = next_command(status, t, run.plan_name, reason)
                waiting.append(Waiting(t, run.run_id, status, why, command))
    return todo, waiting
