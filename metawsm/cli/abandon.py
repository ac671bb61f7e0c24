"""metawsm abandon: give up on a ticket (it is remembered as abandoned until `metawsm reopen`)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "give up on a ticket: stop what runs of it, remember it as abandoned"
DESCRIPTION = """\
Stop what still runs of TICKET (its steps, agents and sessions) and move it to `abandoned`. Like a merged
ticket it is then remembered: `metawsm plan` shows its steps as `= abandoned`, `metawsm apply` leaves it
alone, and a run whose every ticket is merged or abandoned is closed. Its worktree and branch are kept
(`metawsm cleanup --run R --force` removes them). `metawsm reopen TICKET` brings it back.

exit codes: 0 ok (also when already abandoned), 1 no such ticket, or it is merged or being closed"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "abandon", help=HELP, description=DESCRIPTION)
    p.add_argument("ticket", metavar="TICKET", help="the ticket id")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli._runsel import print_actions
    from metawsm.cli.common import project
    from metawsm.engine.cleanup import abandon_ticket
    from metawsm.engine.context import Engine
    from metawsm.errors import NotFoundError

    eng = Engine.open(project(args))
    try:
        if not eng.has_state():
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        print_actions(args, "abandon", [abandon_ticket(eng, args.ticket)])
    finally:
        eng.close()
    return 0
