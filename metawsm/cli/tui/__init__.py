"""metawsm tui: every agent of the active runs in one terminal screen — live preview, diff, thread, checks,
transcript — with one key to attach, answer, message, restart, stop, iterate or close."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from metawsm.cli.common import add_command

HELP = "terminal dashboard: every agent with its live screen, diff, thread and checks; keys to act"
DESCRIPTION = """\
A terminal dashboard of the active runs (or --run R, or --ticket T): one row per agent — run, ticket,
agent, status, health, attempt, last activity, ticket state, `?` when it waits on a question — and,
for the selected agent, tabs with its live screen (captured from its session with colours, only for
the agent on show, at most every --preview-interval seconds), the ticket's diff, the agent's forum
thread (questions highlighted), the close gate with the checks' log, and the agent's transcript.

Keys (also in the footer; ? shows them): enter attach (the dashboard steps aside, tmux attaches,
detaching with Ctrl-b d comes back), a answer the pending question, m message the agent (pasted
into its session as one bracketed paste and posted in its thread), r restart, s stop (asks first),
i iterate with feedback, c close the ticket (shows the dry run, merges after y), / filter, q quit.

The dashboard only observes and acts on request: it never advances runs (`metawsm watch`, `serve`
or `apply --wait` do). With --server URL (or METAWSM_SERVER) it reads a `metawsm serve` daemon:
runs, threads, answers, restarts and the gate; diff, transcript, message, stop, iterate, close and
attach are refused with the local command to use. The Go spellings `--run-id R` and `--interval 2s`
are accepted. --json prints the rows once ({"agents": [...]}) and exits.

exit codes: 0 ok, 1 no such run or repository, 2 usage (no terminal without --json)"""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(lo: float, hi: float):  # type: ignore[no-untyped-def]
    """An argparse `type=`: seconds as a number or a Go duration (500ms, 2s, 1m), in [lo, hi]."""

    def parse(text: str) -> float:
        m = _DURATION.match(text[:40])
        if m is None:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a duration (e.g. 2, 2s, 500ms, 1m)")
        value = float(m.group(1)) * _UNIT[m.group(2)]
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is out of range ({lo:g}s to {hi:g}s)")
        return value

    parse.__name__ = "duration"
    return parse


def add_parser(subparsers: Any) -> None:
    from metawsm.cli.forum_common import add_server

    p = add_command(subparsers, "tui", help=HELP, description=DESCRIPTION)
    p.add_argument("--run", dest="run_id", metavar="R", help="only this run (any status)")
    p.add_argument("--ticket", metavar="T", help="only this ticket's agents")
    p.add_argument("--interval", type=duration(0.2, 3600), default=2.0, metavar="S",
                   help="seconds between refreshes of the agent table (default 2; 2s, 500ms accepted)")
    p.add_argument("--preview-interval", type=duration(0.1, 60), default=0.5, metavar="S",
                   help="seconds between captures of the selected agent's screen (default 0.5)")
    add_server(p)
    p.set_defaults(run=run)


def open_source(args: argparse.Namespace) -> Any:
    from metawsm.cli.forum_common import server_url

    url = server_url(args)
    if url:
        from metawsm.cli.tui.local import _me
        from metawsm.cli.tui.remote import RemoteSource

        return RemoteSource(url, run_id=args.run_id, ticket=args.ticket, actor=_me())
    from metawsm.cli.common import repository
    from metawsm.cli.tui.local import LocalSource

    source = LocalSource(repository(args), run_id=args.run_id, ticket=args.ticket)
    if args.run_id:  # an unknown run is an error now, not an empty screen
        from metawsm.errors import NotFoundError

        if not source.eng.has_state():
            raise NotFoundError(f"run {args.run_id} not found", hint="nothing has been applied here yet")
        source.eng.store.get_run(args.run_id)
    return source


def run(args: argparse.Namespace) -> int:
    from metawsm.errors import UsageError

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not args.out.json_mode and not interactive:
        raise UsageError("metawsm tui needs a terminal (stdin and stdout)",
                         hint="`metawsm tui --json` prints the agents once; `metawsm status` prints the runs")
    source = open_source(args)
    try:
        if args.out.json_mode:
            board = source.board()
            args.out.result({"agents": [dict(r.__dict__, ident=r.ident) for r in board.rows]})
            return 0
        from metawsm.cli.tui.actions import TuiApp

        TuiApp(source, interval=args.interval, preview_interval=args.preview_interval).run()
    finally:
        if args.out.json_mode:
            source.shutdown()
    return 0
