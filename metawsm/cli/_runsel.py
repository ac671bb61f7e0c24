"""Run selection shared by the lifecycle verbs: --run R | --ticket T (default: every active run)."""

from __future__ import annotations

import argparse
from typing import Any


def add_selector(p: argparse.ArgumentParser, *, ticket: bool = True) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--run", dest="run_id", metavar="RUN", help="this run")
    if ticket:
        group.add_argument("--ticket", metavar="TICKET", help="the active run(s) with this ticket")


def engine_and_runs(args: argparse.Namespace, *, active_only: bool = True) -> tuple[Any, list[Any]]:
    from metawsm.cli.common import repository
    from metawsm.engine.context import Engine
    from metawsm.engine.selection import select_runs

    eng = Engine.open(repository(args))
    if not eng.has_state():
        from metawsm.errors import NotFoundError

        raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
    return eng, select_runs(eng, run_id=args.run_id, ticket=getattr(args, "ticket", None),
                            include_finished=not active_only)


def print_actions(args: argparse.Namespace, verb: str, results: list[Any]) -> None:
    def human(console: Any) -> None:
        if not results:
            console.print(f"{verb}: no matching run", markup=False)
        for r in results:
            console.print(f"{r.run_id}: {r.status}", markup=False)
            for action in r.actions:
                console.print(f"  {action}", markup=False)

    args.out.result({"runs": [r.to_json() for r in results]}, human)
