"""metawsm pr: push ticket branches and open their pull requests with the gh CLI (idempotent)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "push ticket branches and open pull requests with gh (an existing one is reported)"
DESCRIPTION = """\
Push ticket T (as `metawsm push` does: the close gate first, then git push through the pre-push hook)
and open a pull request for its branch with the GitHub CLI: `gh pr create --head metawsm/T --base BASE
--title "T: <ticket title>" --body-file -`, the body made of the ticket's goal and done criteria, the
agents' completion summaries, the validation and review results and the diffstat. When `gh pr view
BRANCH` finds a pull request for the branch it is reported, never duplicated (the push still updates
it). Without T: every `ready` ticket of the active runs, or of --run R. --draft opens drafts. Nothing
is merged here: a ticket whose pull request is open becomes `in_review`.

--sync asks `gh pr view BRANCH --json state,mergedAt,url` about every `in_review` ticket (or only T) and
moves it: MERGED -> `merged`, then the tidy a merge close does (sessions ended, worktrees removed, branch
deleted per close.delete_branch, the run closed once every ticket is settled); CLOSED unmerged (or no pull
request any more) -> back to `ready`, the reason saying so; OPEN -> unchanged. Nothing is pushed.

Needs `gh` on PATH, logged in to the forge that hosts the remote; without it, pr refuses with exit 1.

--json prints {"pull_requests": [{ticket, run_id, branch, base, url, number, state, created, draft}],
"failed": [{ticket, run_id, error, hint, exit_code}]}; with --sync {"synced": [{ticket, run_id, branch,
url, pr_state, merged_at, status, actions, warnings}], "failed": [...]}.

exit codes: 0 every selected ticket has its pull request, 1 gh is missing or failed, or the push failed,
2 --sync with --draft or --remote, 3 the gate refused (and nothing else failed)"""


def add_parser(subparsers: Any) -> None:
    from metawsm.cli.push import add_ticket_selection

    p = add_command(subparsers, "pr", help=HELP, description=DESCRIPTION)
    add_ticket_selection(p)
    p.add_argument("--draft", action="store_true", help="open the pull requests as drafts")
    p.add_argument("--sync", action="store_true",
                   help="ask gh what became of the pull requests of in_review tickets, and move them")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.push import exit_code, failure_lines, for_each_ticket
    from metawsm.engine.publish import pr

    if args.sync:
        return _sync(args)
    results, failures, waiting = for_each_ticket(
        args, lambda eng, r, t: pr(eng, r, t, remote=args.remote, draft=args.draft))
    lines = [f"{p.ticket} ({p.run_id}): pull request {'opened' if p.created else 'exists'}: {p.url}"
             + (f" (#{p.number}, {p.state.lower()}{', draft' if p.draft else ''})" if p.number else "")
             for p in results]
    lines += failure_lines(failures, "opened") + [w.line() for w in waiting]
    args.out.result({"pull_requests": [p.to_json() for p in results], "failed": failures,
                     "waiting": [w.to_json() for w in waiting]})
    args.out.text("\n".join(lines) or "pr: no ticket ready for a pull request")
    return exit_code(failures)


def _sync(args: argparse.Namespace) -> int:
    from metawsm.cli.common import repository
    from metawsm.cli.push import exit_code, failure_lines
    from metawsm.engine.context import Engine
    from metawsm.engine.prsync import in_review, sync_ticket
    from metawsm.errors import MetawsmError, UsageError

    if args.draft or args.remote:
        raise UsageError("--sync takes neither --draft nor --remote", hint="`metawsm pr --sync [T]`")
    eng = Engine.open(repository(args))
    results: list[Any] = []
    failures: list[dict[str, Any]] = []
    try:
        todo = [(r, t) for r, t in in_review(eng, args.ticket) if args.run_id is None or r.run_id == args.run_id]
        for r, t in todo:
            try:
                results.append(sync_ticket(eng, r, t))
            except MetawsmError as exc:
                if args.ticket is not None:
                    raise
                failures.append({"ticket": t, "run_id": r.run_id, "error": exc.message, "hint": exc.hint,
                                 "exit_code": exc.exit_code})
    finally:
        eng.close()
    lines = []
    for s in results:
        lines.append(f"{s.ticket} ({s.run_id}): pull request {s.pr_state.lower()}"
                     + (f" {s.url}" if s.url else "") + f"; ticket {s.status}")
        lines += [f"  {a}" for a in s.actions] + [f"  warning: {w}" for w in s.warnings]
    lines += failure_lines(failures, "synced")
    args.out.result({"synced": [s.to_json() for s in results], "failed": failures})
    args.out.text("\n".join(lines) or "pr --sync: no ticket in review")
    return exit_code(failures)
