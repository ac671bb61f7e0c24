"""Following runs from the terminal: reconcile in a loop and show progress (apply --wait).

In a terminal the view refreshes in place (rich Live); otherwise each step event is printed once, and
in --json mode each event is one NDJSON line. A run that existed before this command is shown as its
current state once (`state_lines`, or one `{"type": "state"}` object), then only what changes after.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from metawsm.errors import EXIT_INTERRUPTED, WaitTimeout

POLL_SECONDS = 0.5
STATUS_STYLE = {"done": "green", "running": "cyan", "failed": "red", "pending": "dim", "skipped": "dim"}


def questions(eng: Any, run_id: str) -> list[dict[str, Any]]:
    """Pending guidance questions of a run (the same ones `metawsm status` shows)."""
    from metawsm.engine.snapshot import pending_questions

    return [{"run_id": run_id, **q.to_json()} for q in pending_questions(eng, eng.store.list_agents(run_id))]


def run_table(eng: Any, run_id: str) -> Any:
    from rich.table import Table

    run = eng.store.get_run(run_id)
    from metawsm.engine.snapshot import tries

    table = Table(title=f"{run.plan_name} · {run_id} · {run.status}", title_justify="left", expand=False)
    for column in ("step", "status", "tries", "note"):
        table.add_column(column, overflow="fold")
    agents = eng.store.list_agents(run_id)
    for step in eng.store.list_steps(run_id):
        style = STATUS_STYLE.get(step.status, "")
        note = (step.last_error or "")[:80]
        table.add_row(step.step_id, f"[{style}]{step.status}[/]", str(tries(step, agents)), note)
    return table


NOTE_CHARS = 200
SETTLED = ("done", "skipped")


def state_lines(eng: Any, run_id: str) -> list[str]:
    """A run's current state in a few lines: the run with its step counts, then each step not yet settled."""
    from metawsm.engine.snapshot import tries

    run = eng.store.get_run(run_id)
    steps = eng.store.list_steps(run_id)
    agents = eng.store.list_agents(run_id)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    lines = [f"run {run_id} ({run.plan_name}): {run.status} · steps: {summary}"]
    for step in steps:
        if step.status not in SETTLED:
            note = (step.last_error or "").strip().splitlines()
            text = note[0][:NOTE_CHARS] if note else ""
            line = f"  {step.step_id}: {step.status} (tries {tries(step, agents)})"
            lines.append(line + (f" — {text}" if text else ""))
    return lines


def state_json(eng: Any, run_id: str) -> dict[str, Any]:
    from metawsm.engine.snapshot import tries

    run = eng.store.get_run(run_id)
    agents = eng.store.list_agents(run_id)
    return {"type": "state", "run_id": run_id, "plan": run.plan_name, "status": run.status,
            "steps": [{"step_id": s.step_id, "status": s.status, "tries": tries(s, agents), "message": s.last_error}
                      for s in eng.store.list_steps(run_id)]}


def last_transition(eng: Any, run_id: str) -> int:
    newest = eng.store.audit(run_id, limit=1)
    return newest[0].id if newest else 0


def follow(args: argparse.Namespace, eng: Any, run_ids: Sequence[str], *, timeout: float | None,
           max_parallel: int | None, terminal: Sequence[str], existing: Sequence[str] = ()) -> int:
    """Reconcile `run_ids` until each is in a `terminal` status. A run in `existing` (it was there before
    this command) is shown as its current state once; of the others every transition is shown."""
    from metawsm.engine.autoreview import reconcile_and_iterate as reconcile  # and review.auto_iterate

    out = args.out
    live_view = not out.json_mode and out.console.is_terminal
    deadline = time.monotonic() + timeout if timeout else None
    asked: set[str] = set()
    seen = {rid: 0 for rid in run_ids}  # audit ids already shown, per run (whoever made the transition)
    for rid in run_ids:
        if rid in existing:
            seen[rid] = last_transition(eng, rid)
            if out.json_mode:
                out.ndjson(state_json(eng, rid))
            elif not live_view:
                out.text("\n".join(state_lines(eng, rid)))
        else:
            seen[rid] = _transitions(out, eng, rid, 0, live_view)
    live = None
    if live_view:
        from rich.console import Group
        from rich.live import Live

        live = Live(console=out.console, refresh_per_second=4, transient=False)
        live.start()
    try:
        while True:
            statuses = {}
            for rid in run_ids:
                result = reconcile(eng, rid, max_parallel=max_parallel)
                # busy: another process holds the run (its pass, or a review round it is starting); the status
                # read meanwhile may be one that process is about to leave, so it never ends the wait
                statuses[rid] = "busy" if result.busy else result.status
                seen[rid] = _transitions(out, eng, rid, seen[rid], live_view)
                for q in questions(eng, rid):
                    key = f"{q['thread_id']}:{q['question']}"
                    if key not in asked:
                        asked.add(key)
                        _question(out, q)
            if live is not None:
                live.update(Group(*(run_table(eng, rid) for rid in run_ids)))
            if all(s in terminal for s in statuses.values()):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeout(f"runs still {', '.join(sorted(set(statuses.values())))} after {timeout:g}s",
                                  hint="agents keep running; `metawsm status` shows them")
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        if live is not None:
            live.stop()
        out.warn("stopped watching; agents keep running (`metawsm status`, `metawsm apply --wait` to follow)")
        return EXIT_INTERRUPTED
    finally:
        if live is not None:
            live.stop()
    summary = [{"run_id": rid, "status": eng.store.get_run(rid).status} for rid in run_ids]
    if out.json_mode:
        out.ndjson({"type": "summary", "runs": summary})
    else:
        for item in summary:
            out.text(f"run {item['run_id']}: {item['status']}")
    return 1 if any(item["status"] == "failed" for item in summary) else 0


def _transitions(out: Any, eng: Any, run_id: str, after: int, live_view: bool) -> int:
    """Show the step transitions of a run newer than audit id `after`; returns the newest id seen."""
    for t in reversed(eng.store.audit(run_id, entity="step", after_id=after, limit=None)):
        after = max(after, t.id)
        if t.to_state == "pending":
            continue
        step = eng.store.get_step(run_id, t.entity_id) if t.to_state == "failed" else None
        message = (step.last_error or t.reason) if step is not None else t.reason
        if out.json_mode:
            out.ndjson({"type": "step", "run_id": run_id, "step_id": t.entity_id, "status": t.to_state,
                        "message": message})
        elif not live_view:
            out.text(f"{t.entity_id}: {t.to_state}" + (f" — {message}" if message else ""))
    return after


def _question(out: Any, q: dict[str, str]) -> None:
    if out.json_mode:
        out.ndjson({"type": "question", **q})
    else:
        out.text(f"? {q['ticket']}/{q['agent']} asks: {q['question']}\n  answer: {q['answer_with']}")
