"""metawsm diff: what a ticket branch changes against its base (merge-base), per repository."""

from __future__ import annotations

import argparse
import os
from typing import Any

from metawsm.cli.common import add_command

HELP = "show what a ticket branch changes against its base: commits, diffstat, patch"
DESCRIPTION = """\
Show what ticket T's branch changes against the merge-base with its base branch, in every repository
of the ticket: its commits (newest first, with subjects), the files changed (status, additions,
deletions) and the full patch. Without T: every open ticket of the active runs. Only committed work
is shown (`metawsm gate --ticket T` reports uncommitted files).

In a terminal the patch goes through a pager ($METAWSM_PAGER, else $PAGER, else `less -FRX`; set it
empty for none) with colours, unless NO_COLOR is set or --no-color is given; piped, it is plain text.
--json prints {"tickets": [{ticket, run_id, files_changed, additions, deletions, repos: [{repo,
branch, base_branch, base, head, additions, deletions, files: [{path, status, additions, deletions,
binary, old_path?, patch}], commits: [{sha, subject}]}]}]} (no patch with --stat).

exit codes: 0 ok, 1 no such run, ticket or branch"""

_RESET = "\x1b[0m"
_COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m", "d": "\x1b[1m", "i": "\x1b[1m"}


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "diff", help=HELP, description=DESCRIPTION)
    p.add_argument("ticket", nargs="?", metavar="T", help="the ticket (default: every open ticket of the active runs)")
    p.add_argument("--run", dest="run_id", metavar="RUN", help="tickets of this run")
    p.add_argument("--stat", action="store_true", help="commits and diffstat only, no patch")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.output import escape_controls

    diffs = [ticket_diff(store, r, t, patch=not args.stat) for store, r, t in _selected(args)]
    out = args.out
    if out.json_mode:
        out.result({"tickets": [d.to_json(patch=not args.stat) for d in diffs]})
        return 0
    colour = (out.stdout_is_terminal() and not os.environ.get("NO_COLOR")
              and not getattr(args, "no_color", False))
    text = escape_controls(render(diffs, stat_only=args.stat))
    if colour:
        text = colourize(text)
    if not diffs:
        text = "no open ticket to diff\n"
    out.page(text)
    return 0


def _selected(args: argparse.Namespace) -> list[tuple[Any, Any, str]]:
    """(store, run, ticket) triples. A named ticket whose state names its run reads state.db only (no policy,
    no forum); anything else goes through the engine's run selection."""
    from metawsm.cli.common import repository
    from metawsm.engine.ticketdiff import run_of_ticket

    project = repository(args)
    if args.ticket is not None and args.run_id is None and (project.state_dir / "state.db").exists():
        from metawsm.state import StateStore

        store = StateStore(project.state_dir / "state.db")
        found = run_of_ticket(store, args.ticket)
        if found is not None:
            return [(store, found, args.ticket)]
    from metawsm.cli._runsel import engine_and_runs
    from metawsm.engine.ticketdiff import tickets_to_diff

    eng, runs = engine_and_runs(args, active_only=args.ticket is None and args.run_id is None)
    if args.ticket is not None and args.run_id is not None:
        return [(eng.store, r, args.ticket) for r in runs]
    return [(eng.store, r, t) for r, t in tickets_to_diff(eng, runs, args.ticket)]


def ticket_diff(store: Any, run: Any, ticket: str, *, patch: bool) -> Any:
    from metawsm.engine.ticketdiff import ticket_diff as core

    return core(store, run, ticket, patch=patch)


def stat_lines(files: Any) -> list[str]:
    width = max((len(_label(f)) for f in files), default=0)
    lines = []
    for f in files:
        change = "Bin" if f.binary else f"{f.additions + f.deletions:>5} {'+' * min(f.additions, 40)}" \
                                         f"{'-' * min(f.deletions, 40)}"
        lines.append(f" {_label(f):<{width}} | {change.rstrip()}   ({f.status})")
    return lines


def _label(f: Any) -> str:
    return f"{f.old_path} => {f.path}" if f.old_path else f.path


def render(diffs: list[Any], *, stat_only: bool) -> str:
    """The human text of `diffs` (plain; colourize() adds colours)."""
    parts: list[str] = []
    for d in diffs:
        for r in d.repos:
            bd = r.diff
            parts.append(f"ticket {d.ticket} ({d.run_id}) · repo {r.repo}: {r.branch} against {r.base_branch} "
                         f"(merge-base {bd.base[:12]})\n")
            parts.append(f"{len(bd.commits)} commit{'s' if len(bd.commits) != 1 else ''}:\n")
            parts.extend(f"  {c.sha[:12]} {c.subject}\n" for c in bd.commits)
            parts.extend(line + "\n" for line in stat_lines(bd.files))
            parts.append(f" {len(bd.files)} file{'s' if len(bd.files) != 1 else ''} changed, "
                         f"{bd.additions} insertions(+), {bd.deletions} deletions(-)\n")
            if not stat_only:
                parts.append("\n")
                parts.extend(f.patch for f in bd.files)
            parts.append("\n")
    return "".join(parts)


def colourize(text: str) -> str:
    """ANSI colours for patch lines (added green, removed red, hunks cyan, file headers bold)."""
    out = []
    for line in text.split("\n"):
        key = line[:1]
        if line.startswith(("+++", "---")) or line.startswith("diff --git"):
            key = "d"
        elif line.startswith("ticket "):
            key = "i"
        colour = _COLOURS.get(key) if line else None
        out.append(f"{colour}{line}{_RESET}" if colour else line)
    return "\n".join(out)
