"""metawsm status: runs, steps, agents with health, questions waiting for an answer, escalations, gates."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, repository

HELP = "show runs: steps, agent health, pending questions, escalations and gates"
DESCRIPTION = """\
Show the active runs (or one run, a ticket's runs, or with --all every run): the run's status, each
ticket's state (open, working, ready, closing, merged, failed, abandoned) with why and the command that
moves it on, its steps, each agent's status, health (healthy, idle, stalled, dead — with the reason) and attempt, the
questions agents wait on with the command that answers each, forum escalations (high/urgent threads
or threads past the SLA waiting for a person), the close gate per ticket as last evaluated, and the
AI agents' token usage and cost as their CLIs recorded them (per agent, and for the run).

Reading status changes nothing except agents' health (status running/idle/stalled/dead, activity
and progress times); it never advances a run (`metawsm apply --wait` or `metawsm watch` do) and never
runs gate commands (`metawsm gate` does). Step notes are cut to one line; -v (--verbose) prints each
whole (an agent's failure: the CLI's own last lines and the cause metawsm recognised). --json prints
{"runs": [snapshot, ...]} with every note whole.

exit codes: 0 ok, 1 the requested run or ticket does not exist"""

# One style per state word of every state machine (run, ticket, step, agent, thread, health, gate). Styles are
# applied through rich Text objects, never markup, so no state (or text) can break the rendering.
STATE_STYLE = {
    # run
    "created": "dim", "planning": "cyan", "running": "cyan", "awaiting_guidance": "yellow", "paused": "yellow",
    "failed": "red", "stopping": "yellow", "stopped": "dim", "complete": "green", "closing": "magenta",
    "closed": "green", "ended": "dim",
    # ticket
    "open": "dim", "working": "cyan", "ready": "green", "in_review": "magenta", "merged": "bold green",
    "abandoned": "dim",
    # step
    "pending": "dim", "done": "green", "skipped": "dim",
    # agent
    "idle": "yellow", "stalled": "red", "dead": "bold red", "queued": "yellow",
    # forum thread
    "new": "yellow", "triaged": "cyan", "waiting_operator": "cyan", "waiting_human": "yellow",
    "answered": "green",
    # health and gate
    "healthy": "green", "passed": "green", "refused": "red", "evaluating": "cyan", "not evaluated": "dim",
    "no gate": "dim",
}
HEALTH_STYLE = {k: STATE_STYLE[k] for k in ("healthy", "idle", "stalled", "dead")}
RUN_STYLE = STATE_STYLE  # kept for callers of the old name


def styled(state: str | None) -> Any:
    """A state word as a rich Text in its style (unknown words unstyled)."""
    from rich.text import Text

    word = state or "-"
    return Text(word, style=STATE_STYLE.get(word, ""))


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "status", help=HELP, description=DESCRIPTION)
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--run", dest="run_id", metavar="R", help="only this run (any status)")
    sel.add_argument("--ticket", metavar="T", help="only runs with this ticket (active ones unless --all)")
    p.add_argument("--all", action="store_true", help="include runs that are over (closed, ended)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.engine.selection import select_runs
    from metawsm.engine.snapshot import build_snapshots

    eng = Engine.open(repository(args))
    try:
        runs = select_runs(eng, run_id=args.run_id, ticket=args.ticket, include_finished=args.all)
        snaps = build_snapshots(eng, runs)
        verbose = bool(getattr(args, "verbose", 0))
        args.out.result({"runs": [s.to_json() for s in snaps]},
                        lambda c: render(c, snaps, all_runs=args.all, verbose=verbose))
    finally:
        eng.close()
    return 0


def render(console: Any, snaps: list[Any], *, all_runs: bool = False, verbose: bool = False) -> None:
    if not snaps:
        console.print("no active runs" + ("" if all_runs else " (`metawsm status --all` shows finished ones)"),
                      markup=False)
        return
    for i, snap in enumerate(snaps):
        if i:
            console.print()
        console.print(run_view(snap, verbose=verbose))


NOTE_WIDTH = 100


def run_view(snap: Any, *, verbose: bool = False) -> Any:
    """A rich renderable of one snapshot (also used by `metawsm watch`)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from metawsm.output import age

    parts: list[Any] = []
    counts = ", ".join(f"{n} {s}" for s, n in sorted(snap.step_counts.items()))
    parts.append(Text.assemble((snap.run_id, "bold"), f" · plan {snap.plan_name} · ", styled(snap.status),
                               f" · tickets {', '.join(snap.tickets) or '-'} · steps: {counts or 'none'}"))
    if snap.last_error and snap.status == "failed":
        parts.append(Text(f"  error: {snap.last_error}", style="red"))
    if snap.ticket_states:
        tickets = Table(title="tickets", title_justify="left", expand=False, show_edge=False)
        for column in ("ticket", "state", "why", "next"):
            tickets.add_column(column, overflow="fold")
        for t in snap.ticket_states:
            why = t.reason[:600] if t.status == "failed" else t.reason[:100]  # a failure's note says what to do
            tickets.add_row(t.ticket, styled(t.status), Text(why), Text(t.next))
        parts.append(tickets)
    steps = Table(title="steps", title_justify="left", expand=False, show_edge=False)
    for column in ("step", "status", "tries", "note"):
        steps.add_column(column, overflow="fold")
    for s in snap.steps:
        note = s.last_error or s.note or ""
        steps.add_row(Text(s.step_id), styled(s.status), str(s.attempts),
                      Text(note[:NOTE_WIDTH] + ("…" if len(note) > NOTE_WIDTH else "")))
    parts.append(steps)
    cut = [s for s in snap.steps if len(s.last_error or "") > NOTE_WIDTH]
    if cut and verbose:
        for s in cut:
            parts.append(Text(f"  {s.step_id}: {s.last_error}", style="red" if s.status == "failed" else ""))
    elif cut:
        parts.append(Text("  (notes cut: `metawsm status -v` shows them whole)", style="dim"))
    if snap.agents:
        agents = Table(title="agents", title_justify="left", expand=False, show_edge=False)
        # where each runs, once not all are local or one waits in the queue (then: why)
        placed = any(a.backend != "local" or a.queued for a in snap.agents)
        for column in ("agent", "status", "health", "attempt", "activity", "progress"):
            agents.add_column(column, no_wrap=True)
        if placed:
            agents.add_column("where", overflow="fold", min_width=12)
        agents.add_column("why", overflow="fold", min_width=12)
        with_usage = any(a.usage for a in snap.agents)
        if with_usage:
            agents.add_column("usage", overflow="fold")
        for a in snap.agents:
            where = [Text(f"queued: {a.queued}" if a.queued else (a.where or a.backend))] if placed else []
            row = [Text(a.key), styled("queued" if a.queued else a.status), styled(a.health), str(a.attempt),
                   age(a.activity_age_seconds), age(a.progress_age_seconds), *where,
                   Text(a.health_reason + (f"; review: {a.review}" if a.review else ""))]
            agents.add_row(*row, *([Text(a.usage.short() if a.usage else "-")] if with_usage else []))
        parts.append(agents)
    if snap.usage:
        tickets_text = "; ".join(f"{t} {u.short()}" for t, u in snap.ticket_usage.items())
        parts.append(Text(f"usage: {snap.usage.short()} ({snap.usage.requests} model requests)"
                          + (f" — {tickets_text}" if len(snap.ticket_usage) > 1 else ""), style="dim"))
    for q in snap.questions:
        if q.kind == "input":  # the CLI itself waits for its user: answered in its session
            parts.append(Text(f"? {q.ticket}/{q.agent} waits for its user: {q.question}\n  attach: {q.answer_with}",
                              style="yellow"))
        else:
            parts.append(Text(f"? {q.ticket}/{q.agent} asks: {q.question}\n  answer: {q.answer_with}",
                              style="yellow"))
    for e in snap.escalations:
        parts.append(Text.assemble(f"! escalated ({e.reason}, {e.priority}, waiting {e.waiting_minutes:g} min): "
                                   f"{e.thread_id} {e.ticket}: {e.title} ", styled(e.state), style="magenta"))
    if snap.gates:
        gate = Text("gate: ")
        for i, g in enumerate(snap.gates):
            gate.append_text(Text.assemble("; " if i else "", f"{g.ticket} ", styled(g.state),
                                           f" ({g.reason})" if g.reason else ""))
        parts.append(gate)
    return Group(*parts)


