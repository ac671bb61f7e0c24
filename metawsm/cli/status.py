"""metawsm status: runs, steps, agents with health, questions waiting for an answer, escalations, gates."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "show runs: steps, agent health, pending questions, escalations and gates"
DESCRIPTION = """\
Show the active runs (or one run, a ticket's runs, or with --all every run): the run's status, its
steps, each agent's status, health (healthy, idle, stalled, dead — with the reason) and attempt, the
questions agents wait on with the command that answers each, forum escalations (high/urgent threads
or threads past the SLA waiting for a person) and the close gate per ticket as last evaluated.

Reading status changes nothing except agents' health (status running/idle/stalled/dead, activity
and progress times); it never advances a run (`metawsm apply --wait` or `metawsm watch` do) and never
runs gate commands (`metawsm gate` does). --json prints {"runs": [snapshot, ...]}.

exit codes: 0 ok, 1 the requested run or ticket does not exist"""

HEALTH_STYLE = {"healthy": "green", "idle": "yellow", "stalled": "red", "dead": "bold red"}
RUN_STYLE = {"running": "cyan", "awaiting_guidance": "yellow", "complete": "green", "closed": "green",
             "failed": "red", "stopped": "dim", "paused": "yellow"}


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "status", help=HELP, description=DESCRIPTION)
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--run", dest="run_id", metavar="R", help="only this run (any status)")
    sel.add_argument("--ticket", metavar="T", help="only runs with this ticket (active ones unless --all)")
    p.add_argument("--all", action="store_true", help="include finished runs (closed, stopped, failed)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.engine.selection import select_runs
    from metawsm.engine.snapshot import build_snapshots

    eng = Engine.open(project(args))
    try:
        runs = select_runs(eng, run_id=args.run_id, ticket=args.ticket, include_finished=args.all)
        snaps = build_snapshots(eng, runs)
        args.out.result({"runs": [s.to_json() for s in snaps]}, lambda c: render(c, snaps, all_runs=args.all))
    finally:
        eng.close()
    return 0


def render(console: Any, snaps: list[Any], *, all_runs: bool = False) -> None:
    if not snaps:
        console.print("no active runs" + ("" if all_runs else " (`metawsm status --all` shows finished ones)"),
                      markup=False)
        return
    for i, snap in enumerate(snaps):
        if i:
            console.print()
        console.print(run_view(snap))


def run_view(snap: Any) -> Any:
    """A rich renderable of one snapshot (also used by `metawsm watch`)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    style = RUN_STYLE.get(snap.status, "")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(snap.step_counts.items()))
    parts.append(Text.from_markup(f"[bold]{escape(snap.run_id)}[/] · plan {escape(snap.plan_name)} · "
                                  f"[{style}]{snap.status}[/] · tickets {escape(', '.join(snap.tickets) or '-')}"
                                  f" · steps: {counts or 'none'}"))
    if snap.last_error and snap.status == "failed":
        parts.append(Text(f"  error: {snap.last_error}", style="red"))
    steps = Table(title="steps", title_justify="left", expand=False, show_edge=False)
    for column in ("step", "status", "tries", "note"):
        steps.add_column(column, overflow="fold")
    for s in snap.steps:
        steps.add_row(s.step_id, s.status, str(s.attempts), (s.last_error or "")[:100])
    parts.append(steps)
    if snap.agents:
        agents = Table(title="agents", title_justify="left", expand=False, show_edge=False)
        for column in ("agent", "status", "health", "attempt", "activity", "progress"):
            agents.add_column(column, no_wrap=True)
        agents.add_column("why", overflow="fold", min_width=12)
        for a in snap.agents:
            h = a.health or "-"
            agents.add_row(a.key, a.status, f"[{HEALTH_STYLE.get(h, '')}]{h}[/]" if h in HEALTH_STYLE else h,
                           str(a.attempt), _age(a.activity_age_seconds), _age(a.progress_age_seconds),
                           escape(a.health_reason))
        parts.append(agents)
    for q in snap.questions:
        parts.append(Text(f"? {q.ticket}/{q.agent} asks: {q.question}\n  answer: {q.answer_with}", style="yellow"))
    for e in snap.escalations:
        parts.append(Text(f"! escalated ({e.reason}, {e.priority}, waiting {e.waiting_minutes:g} min): "
                          f"{e.thread_id} {e.ticket}: {e.title}", style="magenta"))
    gates = "; ".join(f"{g.ticket} {g.state}" + (f" ({g.reason})" if g.reason else "") for g in snap.gates)
    if gates:
        parts.append(Text(f"gate: {gates}"))
    return Group(*parts)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"
