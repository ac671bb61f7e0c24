"""metawsm reopen: work on a merged or abandoned ticket again."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "make a merged or abandoned ticket open again"
DESCRIPTION = """\
A merged or abandoned ticket is remembered across runs: `metawsm plan` shows its steps as `= merged`
and `metawsm apply` leaves it alone. `metawsm reopen T` moves it back to open, so the next apply works
on it again (a new worktree from the base branch, new agents). Reopening an open, working, ready or
failed ticket changes nothing.

exit codes: 0 ok, 1 the ticket has no recorded state or is being closed"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "reopen", help=HELP, description=DESCRIPTION)
    p.add_argument("ticket", metavar="TICKET", help="the ticket id")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.errors import MetawsmError, NotFoundError

    eng = Engine.open(project(args))
    try:
        if not eng.has_state():
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        state = eng.store.require_ticket(args.ticket)
        before = state.status
        if before == "closing":
            raise MetawsmError(f"ticket {args.ticket} is being closed",
                               hint=f"`metawsm close --ticket {args.ticket}` finishes or rolls back that close first")
        if before in ("merged", "abandoned"):
            state = eng.store.move_ticket(args.ticket, "open", "reopened by a person")
    finally:
        eng.close()
    data = {"ticket": args.ticket, "from": before, "status": state.status}
    args.out.result(data, lambda c: c.print(
        f"{args.ticket}: {before} -> open; `metawsm apply PLAN` works on it again" if before != state.status
        else f"{args.ticket}: {before}, nothing to reopen", markup=False))
    return 0
