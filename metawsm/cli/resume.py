"""metawsm resume: continue stopped, paused or failed runs."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "resume stopped, paused or failed runs"
DESCRIPTION = """\
Move the selected runs back to running: failed or stopped steps run again, missing tmux sessions are
recreated, and agents start a new attempt only where their step did not finish.

exit codes: 0 ok, 1 a run cannot be resumed or does not exist"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "resume", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.lifecycle import resume_run

    eng, runs = engine_and_runs(args, active_only=args.run_id is None and args.ticket is None)
    if args.run_id is None and args.ticket is None:
        runs = [r for r in eng.store.list_runs(status_in=["stopped", "paused", "failed"])]
    print_actions(args, "resume", [resume_run(eng, r) for r in runs])
    return 0
