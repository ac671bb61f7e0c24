"""metawsm attach: put the terminal on an agent's tmux session (or print the command that does)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from metawsm.cli.common import add_command, repository

HELP = "attach the terminal to an agent's tmux session"
DESCRIPTION = """\
Attach this terminal to the tmux session of AGENT (`name` or `TICKET/name`), looked up in the active
runs (or in --run R, any status; --ticket narrows the search). In a terminal, metawsm replaces
itself with `tmux -L <socket> attach-session -t =<session>` (detach again with Ctrl-b d; the agent
keeps running). When stdin or stdout is not a terminal, or with --json, the command is printed
instead ({"command": [...], "shell": "..."} in --json).

A name that matches agents of several tickets or runs is refused with the list of candidates.

exit codes: 0 attached or command printed, 1 no such agent or its session is gone, 2 ambiguous name"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "attach", help=HELP, description=DESCRIPTION)
    p.add_argument("agent", metavar="AGENT", help="agent name, or TICKET/name")
    p.add_argument("--run", dest="run_id", metavar="R", help="look in this run (default: the active runs)")
    p.add_argument("--ticket", metavar="T", help="only agents of this ticket")
    p.set_defaults(run=run)


def find_agent(eng: Any, spec: str, *, run_id: str | None, ticket: str | None) -> Any:
    """The one agent `spec` names; NotFoundError / UsageError (listing candidates) otherwise."""
    from metawsm.errors import NotFoundError, UsageError
    from metawsm.state.machines import ACTIVE_RUN_STATES

    if "/" in spec:
        spec_ticket, name = spec.split("/", 1)
        if ticket and ticket != spec_ticket:
            raise UsageError(f"{spec} is not an agent of ticket {ticket}")
        ticket = spec_ticket
    else:
        name = spec
    if not eng.has_state():
        raise NotFoundError(f"no agent {spec}: nothing has been applied in this repository yet")
    runs = [eng.store.get_run(run_id)] if run_id else eng.store.list_runs(status_in=sorted(ACTIVE_RUN_STATES))
    everyone = [a for r in runs for a in eng.store.list_agents(r.run_id)]
    found = [a for a in everyone if a.name == name and (ticket is None or a.ticket == ticket)]
    if not found:
        known = ", ".join(sorted({eng.agent_key(a.ticket, a.name) for a in everyone})) or "none"
        where = f"run {run_id}" if run_id else "the active runs"
        raise NotFoundError(f"no agent {spec} in {where}", hint=f"agents: {known}")
    if len(found) > 1:
        listed = "; ".join(f"{eng.agent_key(a.ticket, a.name)} in run {a.run_id}" for a in found)
        raise UsageError(f"agent name {spec!r} is ambiguous: {listed}",
                         hint="name it as TICKET/name, or pick the run with --run R")
    return found[0]


def run(args: argparse.Namespace) -> int:
    import shlex

    from metawsm.engine.context import Engine
    from metawsm.engine.snapshot import attach_command
    from metawsm.errors import NotFoundError

    eng = Engine.open(repository(args))
    try:
        agent = find_agent(eng, args.agent, run_id=args.run_id, ticket=args.ticket)
        command = attach_command(eng, agent.session)
        key = eng.agent_key(agent.ticket, agent.name)
        if not eng.runtime.exists(agent.session):
            raise NotFoundError(
                f"the tmux session {agent.session} of {key} is not running (agent status {agent.status})",
                hint=f"restart it: metawsm restart --run {agent.run_id} --agent {key}")
    finally:
        eng.close()
    interactive = not args.out.json_mode and sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        args.out.result({"run_id": agent.run_id, "agent": key, "session": agent.session, "command": command,
                         "shell": shlex.join(command)},
                        lambda c: c.print(shlex.join(command), markup=False, highlight=False))
        return 0
    sys.stdout.flush()
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}  # attach from inside tmux too
    os.execvpe(command[0], command, env)
    return 0  # pragma: no cover - execvpe does not return
