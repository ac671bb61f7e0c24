"""`metawsm logs T --check`: the log of ticket T's check step (every command, its output, the failure)."""

from __future__ import annotations

import argparse


def print_check_log(args: argparse.Namespace) -> int:
    from metawsm.cli.common import repository
    from metawsm.engine.closeplan import run_for_ticket
    from metawsm.engine.context import Engine
    from metawsm.engine.kinds.check import log_path_for
    from metawsm.errors import NotFoundError

    ticket = args.ticket or args.agent
    if "/" in ticket:
        raise NotFoundError(f"metawsm logs {ticket} --check: give a ticket, not TICKET/agent",
                            hint=f"metawsm logs {ticket.split('/')[0]} --check")
    eng = Engine.open(repository(args))
    try:
        if not eng.has_state():
            raise NotFoundError("no runs yet in this repository", hint="start one with `metawsm apply PLAN`")
        run = eng.store.get_run(args.run_id) if args.run_id else run_for_ticket(eng, ticket)
        path = log_path_for(eng.project.logs_dir, run.run_id, ticket)
        if not path.is_file():
            raise NotFoundError(f"no check log of {ticket} in run {run.run_id} ({path})",
                                hint="the checks have not run yet (or the plan has none): `metawsm status --ticket "
                                     f"{ticket}`")
        text = path.read_text(encoding="utf-8", errors="replace")
    finally:
        eng.close()
    if args.out.json_mode:
        args.out.result({"run_id": run.run_id, "ticket": ticket, "path": str(path), "text": text})
    else:
        args.out.raw(text)
    return 0
