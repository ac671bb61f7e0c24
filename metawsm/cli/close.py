"""metawsm close: merge tickets whose gate passes into the base branch, each on its own, and clean up after them."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli._runsel import add_selector, engine_and_runs
from metawsm.cli.common import add_command

HELP = "merge ready tickets behind the close gate, each on its own"
DESCRIPTION = """\
Close tickets. A ticket closes on its own state, never its run's: `--ticket T` merges T as soon as its
gate passes, whatever its siblings do. Without --ticket, every `ready` ticket (gate passed) of the active
runs (or of --run R) is closed, and every other ticket is reported on one line with why and the command
that moves it on.

Closing re-evaluates the gate (catching work pushed past the hooks with --no-verify), checks every repo
of the ticket (conflicts, a dirty base checkout, an ignored local file a merge would overwrite) before
merging any, records its intent, then moves the base branch in one step to a commit built per
close.merge (merge: a merge commit; squash; ff-only) that already contains the line appended to
tickets/<ID>.changelog.md. A crash at any instant is finished or rolled back by the next close. Then the
ticket's sessions, worktree and branch are removed (a failure there is a warning). One close at a time
per repository. --dry-run shows what would happen and changes nothing at all.

With policy close.mode push, close pushes the ticket branches instead (`metawsm push`: the gate, then git
push to close.remote); with close.mode pr it also opens their pull requests with gh (`metawsm pr`,
idempotent). Nothing is merged locally then: a pushed ticket stays `ready`, one whose pull request is open
becomes `in_review` until `metawsm pr --sync` sees the pull request merged (-> merged) or closed (-> ready).

exit codes: 0 every selected ticket closed (or nothing was ready), 1 a ticket could not be closed
(conflict, dirty base checkout, abandoned ticket, no such ticket or run), 3 a gate refused (and nothing
else failed)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "close", help=HELP, description=DESCRIPTION)
    add_selector(p)
    p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.close import close_ticket
    from metawsm.engine.closeplan import select
    from metawsm.errors import EXIT_ERROR, MetawsmError

    eng, runs = engine_and_runs(args) if args.ticket is None else engine_and_runs(args, active_only=False)
    mode = eng.policy.close.mode
    if mode != "merge":  # policy close.mode push|pr: close ends a ticket by pushing it (or opening its PR)
        eng.close()
        return _publish(args, mode)
    try:
        todo, waiting = select(eng, runs, args.ticket)
        if args.ticket is not None and len(todo) == 1:  # one ticket: its error is the command's error
            r, t = todo[0]
            results = [close_ticket(eng, r, t, dry_run=args.dry_run)]
            failures: list[dict[str, Any]] = []
        else:
            results, failures = [], []
            for r, t in todo:
                try:
                    results.append(close_ticket(eng, eng.store.get_run(r.run_id), t, dry_run=args.dry_run))
                except MetawsmError as exc:
                    failures.append({"ticket": t, "run_id": r.run_id, "error": exc.message, "hint": exc.hint,
                                     "exit_code": exc.exit_code})
    finally:
        eng.close()

    lines: list[str] = []  # plain text: close prints no markup (and so needs no rich import)
    for c in results:
        head = f"{c.ticket} ({c.run_id})" + (" [dry run]" if c.dry_run else "")
        lines.append(head + (f": merged at {c.merged_sha[:12]}" if c.merged_sha else ""))
        lines += [f"  commit {line}" for line in c.commits] + [f"  {d}" for d in c.diffstat]
        lines += [f"  {a}" for a in c.actions]
        lines += [f"  warning: {w}" for w in c.warnings]
    for f in failures:
        hint = f" — {f['hint']}" if f["hint"] else ""
        lines.append(f"{f['ticket']} ({f['run_id']}): not closed: {f['error']}{hint}")
    lines += [w.line() for w in waiting]
    if not lines:
        lines.append("close: no ticket to close")

    args.out.result({"closed": [c.to_json() for c in results], "failed": failures,
                     "waiting": [w.to_json() for w in waiting]})
    args.out.text("\n".join(lines))
    if failures:
        return EXIT_ERROR if any(f["exit_code"] != 3 for f in failures) else 3
    return 0


def _publish(args: argparse.Namespace, mode: str) -> int:
    """close.mode push|pr: the same as `metawsm push` / `metawsm pr` on the selected tickets."""
    args.remote, args.draft, args.sync = None, False, False
    if mode == "push" or args.dry_run:  # a pr dry run: the gate and what would be pushed
        from metawsm.cli.push import run as push_run

        return push_run(args)
    from metawsm.cli.pr import run as pr_run

    return pr_run(args)
