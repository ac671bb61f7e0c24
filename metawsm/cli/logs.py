"""metawsm logs: an agent's transcript (what its tmux pane showed), per attempt."""

from __future__ import annotations

import argparse
import time
from typing import Any

from metawsm.cli.common import add_command, repository
from metawsm.forum.bounds import int_arg

HELP = "print an agent's transcript (what its session showed), per attempt"
DESCRIPTION = """\
Print the transcript of AGENT (`name` or `TICKET/name`): everything its tmux pane showed during one
attempt, recorded by tmux pipe-pane in .metawsm/state/logs/<run>/<ticket>/<agent>.<attempt>.log and kept
after stop, close, cleanup and retries. The agent is looked up in the active runs, else in the most recent
run that has it (--run picks one). Terminal control sequences are removed unless --raw; -f follows the
transcript as it grows until the attempt's command ends (Ctrl-C stops following).

With --check, print the log of ticket T's checks instead (`metawsm logs T --check`): each command as
`$ command`, its output, and the command that failed with its exit code — the file a failed check's note
names (.metawsm/state/logs/<run>/check_<T>.log).

exit codes: 0 printed, 1 no such agent or no transcript for that attempt (or no check log), 2 ambiguous name"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "logs", help=HELP, description=DESCRIPTION)
    p.add_argument("agent", metavar="AGENT", help="agent name, or TICKET/name (with --check: the ticket)")
    p.add_argument("--run", dest="run_id", metavar="R", help="the agent of this run")
    p.add_argument("--ticket", metavar="T", help="only agents of this ticket")
    p.add_argument("--attempt", type=int_arg(1, 1_000_000), metavar="N", help="this attempt (default: the latest)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing as the transcript grows")
    p.add_argument("--raw", action="store_true", help="keep terminal control sequences")
    p.add_argument("--check", action="store_true", help="print ticket AGENT's check log instead of a transcript")
    p.set_defaults(run=run)


def _find(eng: Any, args: argparse.Namespace) -> Any:
    from metawsm.cli.attach import find_agent
    from metawsm.errors import NotFoundError

    try:
        return find_agent(eng, args.agent, run_id=args.run_id, ticket=args.ticket)
    except NotFoundError:
        if args.run_id or not eng.has_state():
            raise
    for past in sorted(eng.store.list_runs(), key=lambda r: r.created_at or 0, reverse=True):
        try:
            return find_agent(eng, args.agent, run_id=past.run_id, ticket=args.ticket)
        except NotFoundError:
            continue
    raise NotFoundError(f"no agent {args.agent} in any run")


def run(args: argparse.Namespace) -> int:
    if args.check:
        from metawsm.cli.logs_check import print_check_log

        return print_check_log(args)
    from metawsm.agents.transcripts import attempts, plain, transcript_path
    from metawsm.engine.context import Engine
    from metawsm.errors import NotFoundError

    eng = Engine.open(repository(args))
    try:
        agent = _find(eng, args)
        from metawsm.engine.remotelogs import sync_transcripts

        sync_transcripts(eng, agent.run_id, ticket=agent.ticket, agent=agent.name)  # an ssh agent's, from its host
        logs = eng.project.logs_dir
        known = attempts(logs, agent.run_id, agent.ticket, agent.name)
        attempt = args.attempt or (known[-1] if known else agent.attempt)
        path = transcript_path(logs, agent.run_id, agent.ticket, agent.name, attempt)
        if not path.is_file():
            raise NotFoundError(f"no transcript of {agent.ticket}/{agent.name} attempt {attempt} in run "
                                f"{agent.run_id}", hint=f"attempts with a transcript: {known or 'none'}")
        text = path.read_text(encoding="utf-8", errors="replace")
        show = (lambda t: t) if args.raw else plain
        if args.out.json_mode:
            args.out.result({"run_id": agent.run_id, "agent": eng.agent_key(agent.ticket, agent.name),
                             "attempt": attempt, "attempts": known, "path": str(path), "text": show(text)})
            return 0
        args.out.raw(show(text))
        if not args.follow:
            return 0
        offset = len(text.encode("utf-8"))
        session = agent.session
    finally:
        eng.close()
    from metawsm.engine.context import Engine as Again

    while True:
        time.sleep(0.5)
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        if chunk:
            offset += len(chunk)
            args.out.raw(show(chunk.decode("utf-8", errors="replace")))
            continue
        probe = Again.open(repository(args))
        try:
            state = probe.sessions(refresh=True).get(session)
            if state is None or state.dead:
                time.sleep(0.3)  # the pipe's last bytes
            sync_transcripts(probe, agent.run_id, ticket=agent.ticket, agent=agent.name)  # ssh: from its host
        finally:
            probe.close()
        if state is None or state.dead:  # the attempt ended (a dead pane stays for its exit status)
            with path.open("rb") as handle:
                handle.seek(offset)
                rest = handle.read()
            if rest:
                args.out.raw(show(rest.decode("utf-8", errors="replace")))
            return 0
