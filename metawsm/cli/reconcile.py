"""metawsm reconcile: advance runs once (what apply, the operator and the daemon do on each tick)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, repository
from metawsm.forum.bounds import float_arg

HELP = "advance active runs once"
DESCRIPTION = """\
Advance runs by one reconcile pass: read new signals, move steps and agents, start ready work.
Agents and finished checks start this command in the background themselves, so runs move on without
a daemon; it is safe to run from several processes at once (one lease per run: a pass waits up to
--lease-wait seconds while another command holds it, then reports the run busy, naming the holder).

exit codes: 0 ok, 1 a run failed, does not exist, or stayed busy"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "reconcile", help=HELP, description=DESCRIPTION)
    p.add_argument("--run", dest="run_id", metavar="RUN", help="only this run (default: every active run)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.add_argument("--lease-wait", type=float_arg(0, 86400), default=None, metavar="S",
                   help="when another command holds a run's lease, wait up to S seconds for it "
                        "(default: --lock-timeout when given, else 10)")
    p.set_defaults(run=run)


def _reconcile_waiting(eng: Any, run_id: str, wait: float, busy: list[str]) -> Any:
    """One pass as an operation on the run: a background kick that arrives while another command holds the
    lease still makes its own pass once it is free, or its news would wait for the next one."""
    from metawsm.engine.autoreview import reconcile_and_iterate as reconcile
    from metawsm.engine.locking import LeaseBusy, operation
    from metawsm.engine.reconcile import ReconcileResult

    try:
        with operation(eng, run_id, "reconcile", timeout=wait):
            return reconcile(eng, run_id)
    except LeaseBusy as exc:
        busy.append(exc.message)
        return ReconcileResult(run_id, eng.store.get_run(run_id).status, busy=True)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.engine.locking import check_seconds
    from metawsm.state.machines import ACTIVE_RUN_STATES

    wait = args.lease_wait if args.lease_wait is not None else getattr(args, "lock_timeout", None)
    wait = check_seconds(10.0 if wait is None else wait, "--lease-wait")
    eng = Engine.open(repository(args))
    busy: list[str] = []
    if args.run_id:
        run_ids = [eng.store.get_run(args.run_id).run_id]
    else:
        run_ids = [r.run_id for r in eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES))]
    results = [_reconcile_waiting(eng, rid, wait, busy) for rid in run_ids]
    if not args.quiet:
        for message in busy:
            args.out.warn(message)
        args.out.result({"runs": [r.to_json() for r in results]},
                        lambda c: [c.print(f"{r.run_id}: {r.status}" + (" (busy)" if r.busy else ""), markup=False)
                                   for r in results] and None)
    return 1 if any(r.status == "failed" or r.busy for r in results) else 0
