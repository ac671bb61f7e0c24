"""metawsm watch: follow runs live and alert when an agent turns unhealthy, asks, completes, or a run ends."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from metawsm.cli.common import add_command, repository
from metawsm.forum.bounds import float_arg

HELP = "follow runs live; alert on unhealthy agents, questions, completions and ended runs"
DESCRIPTION = """\
Follow runs and alert, once per change, when:
- agent_unhealthy: an agent turns stalled or dead (or its command failed)
- guidance_needed: an agent asks a question (with the command that answers it)
- agent_completed: an agent signalled completion
- run_done: a run completed (or was closed); run_failed: a run failed (nothing can move: its
  other tickets are closable, `metawsm close` reports each); run_stopped: a run was stopped;
  run_ended: a run was ended by `metawsm cleanup`

In a terminal the view refreshes in place (steps, agents with health, questions) with the alerts
printed above it; otherwise each run's current state is printed once (one line, plus one per step that
is not done), then each alert as one line (one JSON object per line with --json: alerts only).

Alerts are remembered per viewer (--viewer KIND:NAME, default human:$USER) in state.db: a later watch
(or `watch --once` from cron) by the same viewer repeats no alert it already showed — a past
completion is not news — while a condition that changes again (an agent dead on its next attempt, a
new question) is. --replay shows everything that holds now and remembers nothing.

Without --run/--ticket (or with --all) every active run is watched, new ones included, until
Ctrl-C; with --run or --ticket, watch ends when those runs have ended (exit 1 if one failed).
--once evaluates once, prints the alerts that hold now, and exits (for scripts and cron).

watch advances the runs it follows, exactly like `metawsm apply --wait`: each tick runs reconcile
(under the run's lease, so it is safe beside apply, operator and serve) — without it nothing would
notice that an agent signalled completion. --no-reconcile only observes (health is still evaluated).

--notify-cmd CMD runs CMD with /bin/sh -c for every alert, with METAWSM_EVENT, METAWSM_MESSAGE,
METAWSM_RUN, METAWSM_TICKET, METAWSM_AGENT and METAWSM_HINT in its environment; --bell rings the
terminal bell on every alert.

exit codes: 0 ok (also Ctrl-C), 1 a watched run failed (--run/--ticket) or the run/ticket does not
exist"""

ENDED = {"complete": "run_done", "closed": "run_done", "failed": "run_failed", "stopped": "run_stopped",
         "ended": "run_ended"}
NOTIFY_TIMEOUT = 60


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "watch", help=HELP, description=DESCRIPTION)
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--run", dest="run_id", metavar="R", help="watch this run until it ends")
    sel.add_argument("--ticket", metavar="T", help="watch this ticket's active runs until they end")
    sel.add_argument("--all", action="store_true", help="watch every active run, new ones too (the default)")
    p.add_argument("--interval", type=float_arg(0.05, 86400), default=5.0, metavar="S",
                   help="seconds between ticks (default 5)")
    p.add_argument("--notify-cmd", metavar="CMD", help="shell command run for every alert (METAWSM_* env)")
    p.add_argument("--bell", action="store_true", help="ring the terminal bell on every alert")
    p.add_argument("--once", action="store_true", help="evaluate once, print the alerts, exit")
    p.add_argument("--no-reconcile", dest="no_reconcile", action="store_true",
                   help="only observe: do not advance the runs")
    p.add_argument("--viewer", metavar="KIND:NAME",
                   help="whose alerts these are: each is shown once per viewer (default human:$USER)")
    p.add_argument("--replay", action="store_true",
                   help="also alert what this viewer was already shown (and remember nothing)")
    p.set_defaults(run=run)


@dataclass(frozen=True)
class Alert:
    event: str
    message: str
    run_id: str
    ticket: str | None = None
    agent: str | None = None
    hint: str | None = None
    terminal: bool = False  # the run has ended

    def to_json(self) -> dict[str, Any]:
        return {"type": "alert", **asdict(self)}

    def env(self) -> dict[str, str]:
        return {"METAWSM_EVENT": self.event, "METAWSM_MESSAGE": self.message, "METAWSM_RUN": self.run_id,
                "METAWSM_TICKET": self.ticket or "", "METAWSM_AGENT": self.agent or "",
                "METAWSM_HINT": self.hint or ""}


class Watcher:
    """What has been alerted already, so each condition is reported once per change — and, with a store and a
    viewer, once per viewer across invocations (state.db remembers what each viewer was shown)."""

    def __init__(self, store: Any = None, viewer: str | None = None) -> None:
        self.seen: set[str] = set()
        self.agent_state: dict[tuple[str, str], str] = {}
        self.store = store if viewer else None
        self.viewer = viewer or ""
        self._shown: dict[str, set[str]] = {}  # run id -> digests shown to the viewer before this tick

    def _shown_before(self, rid: str, key: str) -> bool:
        if self.store is None:
            return False
        from metawsm.state.alerts import alert_digest

        if rid not in self._shown:
            self._shown[rid] = self.store.shown_alerts(self.viewer, [rid])
        return alert_digest(key) in self._shown[rid]

    def _once(self, key: str, alert: Alert, out: list[tuple[str, Alert]]) -> None:
        if key not in self.seen:
            self.seen.add(key)
            if not self._shown_before(alert.run_id, key):
                out.append((key, alert))

    def alerts(self, snap: Any) -> list[Alert]:
        out: list[tuple[str, Alert]] = []
        rid = snap.run_id
        for q in snap.questions:
            self._once(f"{rid}|q|{q.thread_id}|{q.attempt}|{q.question}",
                       Alert("guidance_needed", f"{q.ticket}/{q.agent} asks: {q.question}", rid, q.ticket, q.agent,
                             q.answer_with), out)
        done_steps = {s.step_id for s in snap.steps if s.kind == "agent" and s.status == "done"}
        for a in snap.agents:
            label = f"{a.attempt}|{a.status}|{a.health}" if a.unhealthy else ""
            previous = self.agent_state.get((rid, a.key))
            self.agent_state[(rid, a.key)] = label
            key = f"{rid}|unhealthy|{a.key}|{label}"
            # a change seen by this watch is alerted; what held when it started only if the viewer was not told
            if label and label != (previous or "") and (previous is not None or not self._shown_before(rid, key)):
                what = a.health if a.health in ("dead", "stalled") else a.status
                out.append((key, Alert("agent_unhealthy", f"{a.key} is {what}: {a.health_reason}", rid, a.ticket,
                                       a.name, f"metawsm restart --run {rid} --agent {a.key}   (look first: "
                                               f"metawsm attach {a.key} --run {rid})")))
            if a.status == "stopped" and f"agent:{a.ticket}:{a.name}" in done_steps:
                self._once(f"{rid}|done|{a.key}|{a.attempt}",
                           Alert("agent_completed", f"{a.key} completed (attempt {a.attempt})", rid, a.ticket,
                                 a.name), out)
        event = ENDED.get(snap.status)
        if event:
            hint = {"run_done": f"metawsm gate --run {rid}; metawsm close --run {rid}",
                    "run_failed": f"metawsm status --run {rid}; fix, then metawsm apply {snap.plan_name}",
                    "run_stopped": f"metawsm resume --run {rid}",
                    "run_ended": "metawsm status --all"}[event]
            msg = f"run {rid} ({snap.plan_name}) is {snap.status}"
            if event == "run_failed" and snap.last_error:
                msg += f": {snap.last_error}"
            self._once(f"{rid}|end|{snap.status}|{snap.finished_at}", Alert(event, msg, rid, hint=hint, terminal=True),
                       out)
        if self.store is not None and out:
            from metawsm.state.alerts import alert_digest

            digests = [alert_digest(k) for k, _ in out]
            self.store.mark_alerts_shown(self.viewer, rid, digests)
            self._shown.setdefault(rid, set()).update(digests)
        return [alert for _, alert in out]


def notify(args: argparse.Namespace, alert: Alert, cwd: str) -> None:
    if args.bell:
        sys.stderr.write("\a")
        sys.stderr.flush()
    if not args.notify_cmd:
        return
    try:
        result = subprocess.run(["/bin/sh", "-c", args.notify_cmd], env={**os.environ, **alert.env()}, cwd=cwd,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=NOTIFY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        args.out.warn(f"--notify-cmd failed for {alert.event}: {exc}")
        return
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        args.out.warn(f"--notify-cmd exited with {result.returncode} for {alert.event}" + (f": {tail}" if tail else ""))


def _emit(args: argparse.Namespace, alert: Alert, live: Any) -> None:
    if args.out.json_mode:
        args.out.ndjson(alert.to_json())
        return
    line = f"[{alert.event}] {alert.message}" + (f"\n  next: {alert.hint}" if alert.hint else "")
    if live is not None:
        live.console.print(line, markup=False, highlight=False)
    else:
        args.out.text(line)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.errors import UsageError

    if args.interval <= 0:
        raise UsageError("--interval must be greater than 0")
    eng = Engine.open(repository(args))
    try:
        return _loop(args, eng)
    finally:
        eng.close()


def _tick(args: argparse.Namespace, eng: Any, tracked: dict[str, Any], explicit: bool) -> list[Any]:
    from metawsm.engine.autoreview import reconcile_and_iterate as reconcile
    from metawsm.engine.reconcile import RECONCILABLE
    from metawsm.engine.selection import select_runs
    from metawsm.engine.snapshot import build_snapshots
    from metawsm.errors import MetawsmError

    if explicit and tracked:
        runs = [eng.store.get_run(rid) for rid in tracked]
    else:
        runs = select_runs(eng, run_id=args.run_id, ticket=args.ticket)
        known = {r.run_id for r in runs}
        runs += [eng.store.get_run(rid) for rid in tracked if rid not in known]  # ended since: say so once
    if not args.no_reconcile:
        for r in runs:
            if r.status in RECONCILABLE:
                try:
                    reconcile(eng, r.run_id)
                except MetawsmError as exc:
                    args.out.warn(f"reconcile {r.run_id}: {exc.message}")
        runs = [eng.store.get_run(r.run_id) for r in runs]
    snaps = build_snapshots(eng, runs)
    for s in snaps:
        tracked[s.run_id] = s.status
    return snaps


def viewer(args: argparse.Namespace) -> str:
    from metawsm.cli.forum_common import kind_name

    kind, name = kind_name(args.viewer, "--viewer")
    if kind is None:
        kind, name = "human", os.environ.get("USER") or os.environ.get("LOGNAME") or "human"
    return f"{kind}:{name}"


def _loop(args: argparse.Namespace, eng: Any) -> int:
    from metawsm.cli.live import state_lines

    explicit = bool(args.run_id or args.ticket)
    watcher = Watcher(None if args.replay else eng.store, viewer(args))
    tracked: dict[str, Any] = {}
    stated: set[str] = set()  # runs whose current state was printed
    live = None
    terminal_view = not args.out.json_mode and args.out.console.is_terminal
    if not args.once and terminal_view:
        from rich.live import Live

        live = Live(console=args.out.console, refresh_per_second=4, transient=False)
        live.start()
    try:
        while True:
            snaps = _tick(args, eng, tracked, explicit)
            for snap in snaps:
                if not args.out.json_mode and not terminal_view and snap.run_id not in stated:
                    stated.add(snap.run_id)
                    args.out.text("\n".join(state_lines(eng, snap.run_id)))
                for alert in watcher.alerts(snap):
                    _emit(args, alert, live)
                    notify(args, alert, str(eng.project.root))
            ended = [s for s in snaps if s.status in ENDED]
            if live is not None:
                live.update(_view(snaps, args.interval))
            elif args.once and terminal_view:
                args.out.console.print(_view(snaps, None))
            if not explicit:
                for s in ended:  # reported once above; stop following it
                    tracked.pop(s.run_id, None)
            if args.once:
                return 0
            if explicit and len(ended) == len(snaps):
                return 1 if any(s.status == "failed" for s in snaps) else 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()


def _view(snaps: list[Any], interval: float | None) -> Any:
    from rich.console import Group
    from rich.text import Text

    from metawsm.cli.status import run_view

    stamp = time.strftime("%H:%M:%S")
    head = f"watching {len(snaps)} run(s) · {stamp}" + (f" · every {interval:g}s · Ctrl-C to stop" if interval else "")
    if not snaps:
        return Group(Text(head, style="dim"), Text("no active runs"))
    return Group(Text(head, style="dim"), *(run_view(s) for s in snaps))
