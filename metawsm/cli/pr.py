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
is merged: the ticket stays `ready` until you merge the pull request (or close it locally).

Needs `gh` on PATH, logged in to the forge that hosts the remote; without it, pr refuses with exit 1.

--json prints {"pull_requests": [{ticket, run_id, branch, base, url, number, state, created, draft}],
"failed": [{ticket, run_id, error, hint, exit_code}]}.

exit codes: 0 every selected ticket has its pull request, 1 gh is missing or failed, or the push failed,
3 the gate refused (and nothing else failed)"""


def add_parser(subparsers: Any) -> None:
    from metawsm.cli.push import add_ticket_selection

    p = add_command(subparsers, "pr", help=HELP, description=DESCRIPTION)
    add_ticket_selection(p)
    p.add_argument("--draft", action="store_true", help="open the pull requests as drafts")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.push import exit_code, failure_lines, for_each_ticket
    from metawsm.engine.publish import pr

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
