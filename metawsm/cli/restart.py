"""metawsm restart: start a new attempt of agents (all of a run, or one)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "restart agents with a new attempt"
DESCRIPTION = """\
Start a new attempt of the selected agents (default: every agent of the selected runs). The old
attempt is ended; signals it sends later no longer count. The agent is told it is a restart, with the
latest forum context ($METAWSM_RESTART_NOTE, and in front of the prompt for AI profiles). Steps after
the agent (checks, gate) run again.

exit codes: 0 ok, 1 no such run or agent, or another command held the run past --lock-timeout,
2 ambiguous agent name"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "restart", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--agent", metavar="AGENT", help="only this agent: NAME or TICKET/NAME")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.lifecycle import restart_agents

    eng, runs = engine_and_runs(args)
    print_actions(args, "restart", [restart_agents(eng, r, agent=args.agent) for r in runs])
    return 0
