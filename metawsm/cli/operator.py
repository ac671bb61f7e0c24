"""metawsm operator: supervise runs — restart unhealthy agents within a persisted budget, escalate to
humans through the forum, stop stale runs, and optionally consult an LLM."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import Any

from metawsm.cli.common import add_command, repository
from metawsm.errors import EXIT_INTERRUPTED, NotFoundError, UsageError
from metawsm.forum.bounds import float_arg

HELP = "supervise runs: restart unhealthy agents, escalate to humans, stop stale runs"
DESCRIPTION = """\
Each tick advances every active run (reconcile), evaluates its agents' health and applies the rules,
first match wins:
  1. a question unanswered past forum.sla.escalation_minutes → escalate it (a forum thread for a human,
     operator.escalation priority and assignee; a line in tickets/<ID>.changelog.md), once per question
  2. a run with no sign of life for operator.stale_run_age_seconds whose unfinished agents are all dead
     → stop it, after checking tmux again
  3. an agent unhealthy for operator.unhealthy_confirmations ticks → restart it (a new attempt) if
     operator.restart_budget and operator.restart_cooldown_seconds allow, else escalate once
Counters live in state.db, so restarting the operator changes nothing; an agent's budget starts afresh
when it completes its ticket. An agent a person stopped is never restarted.

LLM modes (operator.llm in the policy, or --llm-mode): off (rules only); assist (the command's advice is
posted in the agent's control thread, only the rules act); auto (the advice may restart, escalate or
answer a pending question, within the same budget, cooldown and confidence limits). See docs/operator.md.

One line per decision (source, intent, run, agent, executed or not, reason); NDJSON with --json.
Ctrl-C or SIGTERM stop the loop between ticks.

exit codes: 0 ok or stopped by SIGTERM, 1 error, 2 usage, 130 stopped by Ctrl-C"""

LLM_MODES = ("off", "assist", "auto")  # metawsm.operator.MODES, without importing the engine for --help


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "operator", help=HELP, description=DESCRIPTION)
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--run", dest="run_id", metavar="R", help="supervise only this run")
    sel.add_argument("--all", dest="all_runs", action="store_true",
                     help="every active (or failed) run, new ones too (the default)")
    p.add_argument("--interval", type=float_arg(0.05, 86400), metavar="S", help="seconds between ticks (default: "
                                                             "operator.interval_seconds)")
    p.add_argument("--once", action="store_true", help="one tick, then exit")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="decide and print, but act on nothing and persist nothing")
    p.add_argument("--llm-mode", dest="llm_mode", choices=LLM_MODES, help="override operator.llm.mode")
    p.set_defaults(run=run)


def line(d: Any) -> str:
    if d.detail.get("dry_run"):
        state = "dry run"
    elif d.detail.get("error"):
        state = f"failed ({d.detail['error'].splitlines()[0]})"
    elif d.executed:
        state = "executed"
    elif d.act:
        state = "not executed"
    else:
        state = "-"
    target = d.key or "-"
    extra = ""
    if d.detail.get("thread_id"):
        extra += f" [thread {d.detail['thread_id']}]"
    if d.detail.get("new_attempt"):
        extra += f" [attempt {d.detail['new_attempt']}]"
    return f"{time.strftime('%H:%M:%S')} {d.source} {d.intent} {d.run_id} {target} {state}: {d.reason}{extra}"


def emit(args: argparse.Namespace, d: Any) -> None:
    if args.out.json_mode:
        data = d.to_json()
        data["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args.out.ndjson(data)
    else:
        args.out.text(line(d))


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.operator import Operator
    from metawsm.operator.loop import llm_policy

    eng = Engine.open(repository(args))
    llm_policy(eng.policy.operator.llm, args.llm_mode)  # refuse a mode that cannot work before anything else
    interval = args.interval if args.interval is not None else float(eng.policy.operator.interval_seconds)
    if interval <= 0:
        raise UsageError("--interval must be > 0")
    if not eng.has_state():
        if args.run_id:
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        if args.dry_run or args.once:
            args.out.info("operator: no runs yet")
            return 0
    op = Operator(eng, run_id=args.run_id, dry_run=args.dry_run, llm_mode=args.llm_mode)
    try:
        op.runs()  # --run R must exist before the loop starts
        if args.once:
            for d in op.tick():
                emit(args, d)
            return 0
        return _loop(args, op, interval)
    finally:
        eng.close()


def _loop(args: argparse.Namespace, op: Any, interval: float) -> int:
    stop = threading.Event()
    code = [0]

    def on_term(signum: int, frame: Any) -> None:
        stop.set()

    def on_int(signum: int, frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now, mid-tick
            raise KeyboardInterrupt
        code[0] = EXIT_INTERRUPTED
        stop.set()

    old = {signal.SIGTERM: signal.signal(signal.SIGTERM, on_term), signal.SIGINT: signal.signal(signal.SIGINT, on_int)}
    try:
        args.out.info(f"operator: {'run ' + args.run_id if args.run_id else 'every active run'}, every {interval:g}s, "
                      f"LLM {op.llm.mode}{', dry run' if args.dry_run else ''} (Ctrl-C stops)")
        ticks = op.run_forever(interval, lambda d: emit(args, d), stop)
        args.out.info(f"operator: stopped after {ticks} tick(s)")
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return code[0]
