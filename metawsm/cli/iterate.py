"""metawsm iterate: a new review round for a ticket, its agents restarted with the feedback."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "send review feedback to a ticket's agents as a new round (new attempts)"
DESCRIPTION = """\
Start a new review round for ticket T (round 1 is the agents' first work; each iterate adds one): the
selected agents (default: every agent of T; --agent repeats) start a new attempt whose prompt gets the
feedback appended — shell agents read it from $METAWSM_FEEDBACK and the file $METAWSM_FEEDBACK_FILE
($METAWSM_ROUND is the round). The feedback is posted in each agent's forum thread, so earlier rounds stay
there; the ticket goes back to `working`, and its checks and gate run again after the agents complete.
--dry-run says what would happen and changes nothing. The Go spelling `iterate --run-id R --feedback …`
iterates every open ticket of run R.

The feedback is at most 60,000 bytes (--feedback-file - reads stdin).

exit codes: 0 ok, 1 no such run, ticket or agent, the ticket is merged, abandoned or closing, or another
command held the run past --lock-timeout (nothing of the round is written then), 2 usage (no feedback, both or
neither of T and --run)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "iterate", help=HELP, description=DESCRIPTION)
    p.add_argument("ticket_arg", nargs="?", metavar="T", help="the ticket")
    p.add_argument("--ticket", metavar="T", help="the ticket (the same as T)")
    p.add_argument("--run", dest="run_id", metavar="R", help="the run (default: the ticket's run)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--feedback", metavar="TEXT", help="the review feedback")
    src.add_argument("--feedback-file", metavar="FILE", help="read the feedback from FILE (- for stdin)")
    p.add_argument("--agent", action="append", metavar="A", help="only this agent of the ticket (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    p.set_defaults(run=run)


def _feedback(args: argparse.Namespace) -> str:
    from metawsm.cli.common import resolve_path
    from metawsm.errors import UsageError

    if args.feedback is not None:
        return str(args.feedback)
    if args.feedback_file == "-":
        import sys

        return sys.stdin.read()
    path = resolve_path(args, args.feedback_file)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--feedback-file {args.feedback_file}: cannot read it: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.common import repository
    from metawsm.engine.closeplan import run_for_ticket
    from metawsm.engine.context import Engine
    from metawsm.engine.iterate import check_feedback, iterate
    from metawsm.engine.tickets import graph_of
    from metawsm.errors import NotFoundError, UsageError

    if args.ticket_arg and args.ticket and args.ticket_arg != args.ticket:
        raise UsageError(f"ticket given twice ({args.ticket_arg!r} and --ticket {args.ticket!r})")
    ticket = args.ticket_arg or args.ticket
    if ticket is None and args.run_id is None:
        raise UsageError("metawsm iterate: name the ticket (T) or the run (--run R)",
                         hint="see `metawsm iterate --help`")
    feedback = check_feedback(_feedback(args))
    eng = Engine.open(repository(args))
    try:
        if not eng.has_state():
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        if args.run_id is not None:
            chosen = eng.store.get_run(args.run_id)
            closed = eng.store.closed_tickets(chosen.run_id)
            states = {t.ticket: t.status for t in eng.store.list_tickets(graph_of(chosen).tickets)}
            pairs = [(chosen, ticket)] if ticket else [
                (chosen, t) for t in graph_of(chosen).tickets
                if t not in closed and states.get(t) not in ("merged", "abandoned")]
        else:
            pairs = [(run_for_ticket(eng, ticket), ticket)]
        results = [iterate(eng, r, t, feedback, agents=args.agent, dry_run=args.dry_run) for r, t in pairs]
    finally:
        eng.close()

    def human(console: Any) -> None:
        for res in results:
            head = "would start" if res.dry_run else "started"
            console.print(f"{res.ticket} ({res.run_id}): {head} review round {res.round} for "
                          f"{', '.join(res.agents)}", markup=False)
            for action in res.actions:
                console.print(f"  {action}", markup=False)

    args.out.result({"iterations": [r.to_json() for r in results]}, human)
    return 0
