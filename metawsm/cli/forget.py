"""metawsm forget: drop a run's records from state.db without touching git or tmux (Terraform's `state rm`)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import print_actions
from metawsm.cli.common import add_command

HELP = "drop a run's records (git and tmux untouched)"
DESCRIPTION = """\
Remove RUN's steps, agents, audit trail, operator budget, lease and close records from state.db, like
Terraform's `state rm`. Worktrees, branches, tmux sessions and the forum are left exactly as they are
(`metawsm cleanup` removes those). Tickets the run was working on go back to open; merged tickets stay
merged. Use it for a run that cannot be ended otherwise; the plan's next apply starts a new run.

exit codes: 0 ok, 1 no such run"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "forget", help=HELP, description=DESCRIPTION)
    p.add_argument("run_id", metavar="RUN", help="the run to forget")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli._runsel import engine_and_runs
    from metawsm.engine.cleanup import forget_run

    args.ticket = None
    eng, runs = engine_and_runs(args, active_only=False)
    try:
        print_actions(args, "forget", [forget_run(eng, r) for r in runs])
    finally:
        eng.close()
    return 0
