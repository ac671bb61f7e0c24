"""metawsm gate: evaluate the close gate for tickets, check by check."""

from __future__ import annotations

import argparse
import json
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs
from metawsm.cli.common import add_command

HELP = "evaluate the close gate (clean tree, completion, validation, forbidden files)"
DESCRIPTION = """\
Evaluate the close gate for every ticket of the selected runs (or one --ticket): clean_tree (no
uncommitted or untracked files in its worktrees), completion (every agent signalled completion for
its current attempt), validation (the latest validation passed for the current HEAD sha),
forbidden_files (no changed path matches close.forbidden_file_patterns), and any {name, run} commands
in close.required_checks. Each check shows pass/fail and the reason.

exit codes: 0 every gate passes, 3 refused, 1 no such run or ticket"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "gate", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.errors import EXIT_GATE
    from metawsm.gate.evaluate import evaluate
    from metawsm.plan.graph import StepGraph

    eng, runs = engine_and_runs(args)
    results = []
    for r in runs:
        closed = eng.store.closed_tickets(r.run_id)
        for ticket in StepGraph.from_json(json.loads(r.graph_json)).tickets:
            if (args.ticket is None or ticket == args.ticket) and ticket not in closed:
                results.append(evaluate(eng, r, ticket))

    def human(console: Any) -> None:
        for g in results:
            mark = "[green]PASS[/]" if g.passed else "[red]REFUSED[/]"
            console.print(f"{g.ticket} ({g.run_id}) at {(g.sha or '?')[:12]}: {mark}")
            for c in g.checks:
                console.print(f"  {'✓' if c.passed else '✗'} {c.name}: {c.reason}", markup=False)
                if not c.passed and c.fix:
                    console.print(f"      fix: {c.fix}", markup=False)
        if not results:
            console.print("no open ticket to gate", markup=False)

    args.out.result({"gates": [g.to_json() for g in results], "passed": all(g.passed for g in results)}, human)
    return 0 if all(g.passed for g in results) else EXIT_GATE
