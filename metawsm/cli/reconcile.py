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
--lease-wait seconds while another process holds it).

exit codes: 0 ok, 1 a run failed or does not exist"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "reconcile", help=HELP, description=DESCRIPTION)
    p.add_argument("--run", dest="run_id", metavar="RUN", help="only this run (default: every active run)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.add_argument("--lease-wait", type=float_arg(0, 86400), default=10, metavar="S",
                   help="when another process is reconciling the run, wait up to S seconds for it (default 10)")
    p.set_defaults(run=run)


def _reconcile_waiting(eng: Any, run_id: str, wait: float) -> Any:
    """A pass, waiting for the run's lease when another process holds it: a background kick that
    arrives while another pass is ending must still make its own pass, or its news would wait."""
    import time

    from metawsm.engine.reconcile import reconcile

    deadline = time.monotonic() + max(wait, 0)
    while True:
        result = reconcile(eng, run_id)
        if not result.busy or time.monotonic() >= deadline:
            return result
        time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    from metawsm.engine.context import Engine
    from metawsm.state.machines import ACTIVE_RUN_STATES

    eng = Engine.open(repository(args))
    if args.run_id:
        run_ids = [eng.store.get_run(args.run_id).run_id]
    else:
        run_ids = [r.run_id for r in eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES))]
    results = [_reconcile_waiting(eng, rid, args.lease_wait) for rid in run_ids]
    if not args.quiet:
        args.out.result({"runs": [r.to_json() for r in results]},
                        lambda c: [c.print(f"{r.run_id}: {r.status}" + (" (busy)" if r.busy else ""), markup=False)
                                   for r in results] and None)
    return 1 if any(r.status == "failed" for r in results) else 0
