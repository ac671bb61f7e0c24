"""metawsm close: merge tickets whose gate passes into the base branch, and clean up after them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs
from metawsm.cli.common import add_command

HELP = "merge tickets behind the close gate"
DESCRIPTION = """\
For each ticket of the selected complete runs (or one --ticket): re-evaluate the gate (so work pushed
past the hooks with --no-verify is still caught), merge the ticket branch into the base branch per
close.merge (merge: a merge commit; ff-only; squash) where the base branch is checked out (that tree
must be clean) or in a temporary worktree, append a line to tickets/<ID>.changelog.md, remove the
worktree, branch and sessions, and move the run through closing to closed. A merge conflict leaves
everything as it was. --dry-run shows what would happen and changes nothing at all.

exit codes: 0 closed, 1 error (conflict, dirty base checkout, run not complete), 3 gate refused"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "close", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.close import close_ticket
    from metawsm.plan.graph import StepGraph

    eng, runs = engine_and_runs(args)
    results = []
    for r in runs:
        for ticket in StepGraph.from_json(json.loads(r.graph_json)).tickets:
            if args.ticket is None or ticket == args.ticket:
                results.append(close_ticket(eng, eng.store.get_run(r.run_id), ticket, dry_run=args.dry_run))

    def human(console: Any) -> None:
        for c in results:
            head = f"{c.ticket} ({c.run_id})" + (" [dry run]" if c.dry_run else "")
            console.print(head + (f": merged at {c.merged_sha[:12]}" if c.merged_sha else ""), markup=False)
            for line in c.commits:
                console.print(f"  commit {line}", markup=False)
            for action in c.actions:
                console.print(f"  {action}", markup=False)

    args.out.result({"closed": [c.to_json() for c in results]}, human)
    return 0
