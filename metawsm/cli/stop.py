"""metawsm stop: stop a run's agents and steps and kill its tmux sessions (worktrees are kept)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "stop runs: agents stopped, sessions killed, run stopped"
DESCRIPTION = """\
Stop the selected runs (default: every active run): running steps are stopped, agents marked as
stopped by a person (the operator never restarts them), their tmux sessions killed, and the run moves
to stopped. Worktrees and branches stay; `metawsm resume` continues.

exit codes: 0 ok, 1 a run cannot be stopped or does not exist"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "stop", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.lifecycle import stop_run

    eng, runs = engine_and_runs(args)
    print_actions(args, "stop", [stop_run(eng, r) for r in runs])
    return 0
