"""`metawsm forum signal` and `metawsm forum debug`: the Go metawsm's spellings of a control signal
(`metawsm signal` inside an agent is ours) and of the forum diagnostics (`GET /forum/debug`)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

from metawsm.cli.common import add_command
from metawsm.cli.forum_common import open_forum, server_url
from metawsm.forum.bounds import int_arg

TYPES = ("guidance_request", "guidance_answer", "completion", "validation")


def add_parsers(sub: Any) -> None:
    s = add_command(sub, "signal", help="record a control signal (Go spelling of `metawsm signal`)", description=(
        "Record a control signal in the agent's control thread, as the Go metawsm's `forum signal`: the\n"
        "agent's current attempt is used (from the run state), and a validation without --sha records\n"
        "the HEAD of the ticket's worktree. Inside an agent, `metawsm signal …` reads METAWSM_* instead.\n\n"
        "exit codes: 0 recorded, 1 error, 2 invalid payload"))
    s.add_argument("--run", dest="run_id", required=True, metavar="RUN", help="the run")
    s.add_argument("--ticket", required=True, help="the agent's ticket")
    s.add_argument("--agent-name", "--agent", dest="agent_name", required=True, metavar="NAME",
                   help="the agent (NAME or TICKET/NAME)")
    s.add_argument("--type", dest="control_type", required=True, choices=TYPES, help="the signal")
    for name in ("question", "context", "answer", "summary", "status", "done-criteria", "sha"):
        s.add_argument(f"--{name}", dest=name.replace("-", "_"), help=f"the payload's {name.replace('-', '_')}")
    s.add_argument("--actor-type", default="operator", metavar="KIND",
                   help="who signals (default operator, as the Go metawsm; an agent should say agent)")
    s.add_argument("--actor-name", metavar="NAME", help="default: the actor type")
    s.set_defaults(run=signal)

    s = add_command(sub, "debug", help="forum diagnostics (the daemon's /forum/debug)", description=(
        "The forum's diagnostics in the Go metawsm's shape: the \"bus\" (log, index, stream), the\n"
        "\"outbox\" (how far the index lags the log), recent events, threads and control threads. With\n"
        "--server, the daemon's view; without, this repository's (bus.running is false: no daemon).\n\n"
        "exit codes: 0 ok, 1 error"))
    s.add_argument("--ticket", help="only this ticket")
    s.add_argument("--run", dest="run_id", metavar="RUN", help="only this run")
    s.add_argument("--limit", type=int_arg(1, 500), default=50, help="recent events and threads shown (1..500, "
                   "default 50)")
    s.set_defaults(run=debug)


def signal(args: argparse.Namespace) -> int:
    from metawsm.forum import control
    from metawsm.forum.ids import agent_key

    key = agent_key(args.ticket, args.agent_name)
    fields = {k: getattr(args, k) for k in ("question", "context", "answer", "summary", "status",
                                             "done_criteria", "sha") if getattr(args, k)}
    if fields.get("status"):
        fields["status"] = fields["status"].lower()
    payload: dict[str, Any] = {"schema_version": control.SCHEMA_VERSION, "control_type": args.control_type,
                               "run_id": args.run_id, "agent_name": key, **fields}
    actor_name = args.actor_name or args.actor_type
    url = server_url(args)
    if url:  # the daemon completes the payload (attempt, sha) from its state
        from metawsm.forum.models import Event, Thread
        from metawsm.forum.remote import RemoteForum

        data = RemoteForum(url)._call("POST", "/control/signal", {
            "run_id": args.run_id, "ticket": args.ticket, "agent_name": args.agent_name,
            "actor_type": args.actor_type, "actor_name": actor_name, "payload": payload})
        thread, event = Thread(**data["thread"]), Event.from_dict(data["event"])
    else:
        from metawsm.cli.common import repository
        from metawsm.config.loader import load_policy
        from metawsm.server.go_compat import complete_payload

        proj = repository(args)
        state = SimpleNamespace(project=proj, policy=load_policy(proj))
        payload = control.validate(complete_payload(state, args.run_id, args.ticket, key, payload))
        forum = open_forum(args)
        extra = {k: v for k, v in payload.items() if k not in control.COMMON}
        event = forum.signal(args.run_id, args.ticket, key, payload["attempt"], args.control_type,
                             actor_type=args.actor_type, actor_name=actor_name, **extra)
        thread = forum.get_thread(event.thread_id)[0]
    args.out.result({"thread": thread, "event": event})
    args.out.text(f"signalled {args.control_type} in {thread.thread_id} (#{event.sequence})")
    return 0


def debug(args: argparse.Namespace) -> int:
    url = server_url(args)
    if url:
        from metawsm.forum.remote import RemoteForum

        snap = RemoteForum(url)._call("GET", "/debug", query={"ticket": args.ticket, "run_id": args.run_id,
                                                               "limit": args.limit})["debug"]
    else:
        from metawsm.server.debug_snapshot import snapshot

        snap = snapshot(open_forum(args), head=None, running=False, worker_error=None, ticket=args.ticket,
                        run_id=args.run_id, limit=args.limit)
    args.out.result({"debug": snap}, lambda console: _human(console, snap))
    return 0


def _human(console: Any, snap: dict[str, Any]) -> None:
    bus, box = snap["bus"], snap["outbox"]
    console.print(f"bus: running={bus['running']} healthy={bus['healthy']} log={bus['stream_name']}", markup=False)
    if bus.get("health_error"):
        console.print(f"  error: {bus['health_error']}", markup=False)
    console.print(f"outbox (index lag): pending={box['pending_count']} oldest_age={box['oldest_pending_age_seconds']}s",
                  markup=False)
    for t in bus["topics"]:
        console.print(f"  topic {t['topic']} events={t['stream_length']}", markup=False)
    console.print(f"events: {len(snap['events'])}  threads: {len(snap['threads'])}  "
                  f"control threads: {len(snap['control_threads'])}", markup=False)
    for c in snap["control_threads"]:
        console.print(f"  {c['thread_id']} run={c['run_id']} agent={c['agent_name']}", markup=False)
