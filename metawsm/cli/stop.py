"""metawsm stop: stop a run — or one ticket, or one agent — and kill its tmux sessions (worktrees are kept)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "stop a run, one ticket (--ticket) or one agent (--agent T/A)"
DESCRIPTION = """\
Stop the selected runs (default: every active run): running steps are stopped, agents marked as
stopped by a person (the operator never restarts them), their tmux sessions killed, and the run moves
to stopped. --ticket T stops only T (its steps, agents and sessions; T becomes failed, "stopped by a
person") and --agent T/A only that agent — the rest of the run goes on. Worktrees and branches stay;
`metawsm resume` (with the same --ticket) continues. Stopping what is not running changes nothing.

exit codes: 0 ok (also when nothing was running), 1 no such run, ticket or agent, 2 ambiguous agent name"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "stop", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--agent", metavar="AGENT", help="only this agent: TICKET/NAME (or NAME when unambiguous)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.lifecycle import stop_run

    eng, runs = engine_and_runs(args)
    results = [stop_run(eng, r, ticket=args.ticket, agent=args.agent) for r in runs]
    print_actions(args, "stop", results)
    return 0
