"""metawsm push: push ticket branches to their remote, behind the close gate."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "push ticket branches to the remote, behind the close gate"
DESCRIPTION = """\
Push ticket T's branch (metawsm/T) to the remote (policy close.remote, default origin; --remote
overrides) in every repository of the ticket. Without T: every `ready` ticket (gate passed) of the active
runs, or of --run R. The close gate is evaluated first, as `metawsm close` does, and the push goes
through git's pre-push hook (`metawsm hooks install`), which judges the pushed sha again; nothing is
ever forced. Nothing is merged: the ticket stays `ready` (merge it with `metawsm close`, or open a pull
request with `metawsm pr`). --dry-run evaluates the gate and says what would be pushed.

--json prints {"pushed": [{ticket, run_id, remote, pushed: [{repo, branch, sha, remote}]}],
"failed": [{ticket, run_id, error, hint, exit_code}]}.

exit codes: 0 every selected ticket pushed (or none was ready), 1 a push failed (no such remote, ticket
or branch; the remote refused), 3 the gate refused (and nothing else failed)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "push", help=HELP, description=DESCRIPTION)
    add_ticket_selection(p)
    p.add_argument("--dry-run", action="store_true", help="evaluate the gate and show what would be pushed")
    p.set_defaults(run=run)


def add_ticket_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("ticket", nargs="?", metavar="T", help="the ticket (default: every ready ticket)")
    p.add_argument("--run", dest="run_id", metavar="RUN", help="the ready tickets of this run")
    p.add_argument("--remote", metavar="NAME", help="the git remote (default: policy close.remote)")


def for_each_ticket(args: argparse.Namespace, action: Any) -> tuple[list[Any], list[dict[str, Any]], list[Any]]:
    """Run `action(eng, run, ticket)` on the selected tickets: (results, failures, waiting). One named ticket's
    error is the command's error; with several, each failure is reported and the others go on."""
    from metawsm.cli._runsel import engine_and_runs
    from metawsm.engine.closeplan import select
    from metawsm.errors import MetawsmError

    named = args.ticket  # engine_and_runs picks the runs with it
    eng, runs = engine_and_runs(args) if named is None else engine_and_runs(args, active_only=False)
    results: list[Any] = []
    failures: list[dict[str, Any]] = []
    try:
        todo, waiting = select(eng, runs, named)
        if named is not None and len(todo) == 1:
            results.append(action(eng, todo[0][0], todo[0][1]))
        else:
            for r, t in todo:
                try:
                    results.append(action(eng, eng.store.get_run(r.run_id), t))
                except MetawsmError as exc:
                    failures.append({"ticket": t, "run_id": r.run_id, "error": exc.message, "hint": exc.hint,
                                     "exit_code": exc.exit_code})
    finally:
        eng.close()
    return results, failures, waiting


def exit_code(failures: list[dict[str, Any]]) -> int:
    from metawsm.errors import EXIT_ERROR

    if not failures:
        return 0
    return EXIT_ERROR if any(f["exit_code"] != 3 for f in failures) else 3


def failure_lines(failures: list[dict[str, Any]], verb: str) -> list[str]:
    return [f"{f['ticket']} ({f['run_id']}): not {verb}: {f['error']}" + (f" — {f['hint']}" if f["hint"] else "")
            for f in failures]


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.publish import push

    results, failures, waiting = for_each_ticket(
        args, lambda eng, r, t: push(eng, r, t, remote=args.remote, dry_run=args.dry_run))
    lines = []
    for p in results:
        for item in p.pushed:
            verb = "would push" if args.dry_run else "pushed"
            lines.append(f"{p.ticket} ({p.run_id}): {verb} {item['branch']} at {item['sha'][:12]} to "
                         f"{item['remote']} (repo {item['repo']})")
    lines += failure_lines(failures, "pushed") + [w.line() for w in waiting]
    args.out.result({"pushed": [p.to_json() for p in results], "failed": failures,
                     "waiting": [w.to_json() for w in waiting], "dry_run": args.dry_run})
    args.out.text("\n".join(lines) or "push: no ticket to push")
    return exit_code(failures)
