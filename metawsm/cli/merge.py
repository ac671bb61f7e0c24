"""metawsm merge: the Go metawsm's verb, an alias of `metawsm close` (which merges behind the gate)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector
from metawsm.cli.common import add_command

HELP = "merge tickets behind the close gate (Go spelling of `metawsm close`)"
DESCRIPTION = """\
The same as `metawsm close`: re-check each ticket's close gate, merge its branch into the base branch,
remove its worktree and close the run. `--human` (the Go metawsm's guard against automated merges)
is accepted and changes nothing: merging here always goes through the gate.

exit codes: 0 closed, 1 error, 3 gate refused"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "merge", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    p.add_argument("--human", action="store_true", help="accepted for the Go metawsm; changes nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli import close

    return close.run(args)
