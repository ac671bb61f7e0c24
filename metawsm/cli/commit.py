"""metawsm commit: commit a ticket's worktree (every change, untracked files too) with a message, through
the git hooks (the pre-commit hook validates metawsm files and refuses forbidden files) — the Go
metawsm's `commit`, without its branch or pull-request bookkeeping."""

from __future__ import annotations

import argparse
import json
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs
from metawsm.cli.common import add_command

HELP = "commit a ticket's worktree (through the pre-commit hook)"
DESCRIPTION = """\
For each ticket of the selected runs (or one --ticket) whose worktree has changes: `git add -A`, then
`git commit -m MESSAGE` in the worktree, so the pre-commit hook runs (installed by `metawsm hooks
install`; it refuses forbidden files and invalid metawsm files). A clean worktree is skipped.
--dry-run lists what would be committed. The default message is `TICKET: changes from run RUN`.

exit codes: 0 committed (or nothing to commit), 1 a hook or git refused (its output is shown)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "commit", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--message", "-m", help="the commit message (default: TICKET: changes from run RUN)")
    p.add_argument("--actor", help="accepted for the Go metawsm: recorded in the output only")
    p.add_argument("--dry-run", action="store_true", help="list the changes; commit nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.health import workspace_paths
    from metawsm.errors import MetawsmError
    from metawsm.plan.graph import StepGraph
    from metawsm.runtime.git import git, head_sha, is_dirty

    eng, runs = engine_and_runs(args, active_only=False)
    results: list[dict[str, Any]] = []
    for r in runs:
        paths = workspace_paths(eng.store.list_steps(r.run_id))
        for ticket in StepGraph.from_json(json.loads(r.graph_json)).tickets:
            if args.ticket is not None and ticket.casefold() != args.ticket.casefold():
                continue
            path = paths.get(ticket)
            item: dict[str, Any] = {"run_id": r.run_id, "ticket": ticket, "worktree": path, "files": [],
                                    "sha": None, "committed": False, "actor": args.actor}
            results.append(item)
            if not path:
                item["skipped"] = "no worktree"
                continue
            item["files"] = is_dirty(path)
            if not item["files"]:
                item["skipped"] = "clean worktree"
                continue
            if args.dry_run:
                continue
            git(path, "add", "-A")
            done = git(path, "commit", "-m", args.message or f"{ticket}: changes from run {r.run_id}", check=False)
            if done.code != 0:
                said = (done.stdout + done.stderr).strip()
                raise MetawsmError(f"commit refused in {path} (exit {done.code}):\n{said}",
                                   hint="fix what the hook names, then run `metawsm commit` again")
            item["sha"], item["committed"] = head_sha(path), True

    def human(console: Any) -> None:
        if not results:
            console.print("commit: no matching ticket", markup=False)
        for item in results:
            what = (f"committed {item['sha'][:12]}" if item["committed"] else item.get("skipped")
                    or f"would commit {len(item['files'])} file(s)")
            console.print(f"{item['ticket']} ({item['run_id']}): {what}", markup=False)

    args.out.result({"commits": results}, human)
    return 0
