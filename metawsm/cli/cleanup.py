"""metawsm cleanup: end runs and remove their worktrees and branches — never losing work unless --force."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs, print_actions
from metawsm.cli.common import add_command

HELP = "end runs in any state; remove worktrees and branches (refuses to lose work)"
DESCRIPTION = """\
End the selected runs (default: every active run), whatever their state — running, failed, complete,
closing, stopped or stuck: stop their agents, kill their tmux sessions, remove each unmerged ticket's
worktree and branch, and move the run to `ended` (its unfinished tickets go back to open; merged ones
stay remembered). Removing a worktree with uncommitted changes, or a branch with commits not merged
into the base branch, is refused — the message lists the files and commits — unless --force.
--keep-workspaces ends the run but keeps worktrees and branches (a later apply adopts them).
`metawsm forget RUN` drops a run's records without touching git or tmux.

exit codes: 0 ok, 1 refused (work would be lost) or no such run"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "cleanup", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--keep-workspaces", action="store_true", help="keep worktrees and branches")
    p.add_argument("--force", action="store_true", help="remove them even if work would be lost")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.cleanup import cleanup_run

    eng, runs = engine_and_runs(args, active_only=not args.run_id and not args.ticket)
    results = [cleanup_run(eng, r, keep_workspaces=args.keep_workspaces, force=args.force) for r in runs]
    print_actions(args, "cleanup", results)
    return 0
