"""metawsm resume: continue stopped, paused or failed runs (or one ticket)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "resume stopped, paused or failed runs (or one ticket)"
DESCRIPTION = """\
Move the selected run back to running: failed or stopped steps run again, missing tmux sessions are
recreated, and agents start a new attempt only where their step did not finish. --ticket T resumes
only T's steps. Without a selector, each plan's one active run is resumed when it is stopped, paused
or failed — never an older run (a plan has at most one active run).

exit codes: 0 ok, 1 a run cannot be resumed (closed or ended) or does not exist"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "resume", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.lifecycle import resume_run

    eng, runs = engine_and_runs(args)
    if args.run_id is None and args.ticket is None:
        runs = [r for r in runs if r.status in ("stopped", "paused", "failed")]
    print_actions(args, "resume", [resume_run(eng, r, ticket=args.ticket) for r in runs])
    return 0
