"""metawsm signal: an agent reports guidance requests, completion and validation to its control thread.

Runs inside agent sessions, so it must start fast: no rich, yaml or jsonschema on this path (the
payload is validated by hand in metawsm.forum.control, kept in agreement with schemas/control.json),
and the policy file is not read (fsync is always on; the body limit is the default 64 KiB)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from metawsm.cli.common import add_command
from metawsm.errors import UsageError
from metawsm.kick import kick_reconcile

HELP = "signal guidance requests, completion and validation (for agents)"
DESCRIPTION = """\
Record a control signal in the agent's control thread (fctrl-<run>-<agent>). The run, ticket,
agent and attempt come from METAWSM_RUN, METAWSM_TICKET, METAWSM_AGENT and METAWSM_ATTEMPT (set by
metawsm in every agent session) and the repository from METAWSM_HOME; flags override them.

  metawsm signal guidance-request --question "Which database?" [--context …]
  metawsm signal completion [--summary "Implemented X; tests pass"]
  metawsm signal validation --status passed --done-criteria "tests pass" --sha $(git rev-parse HEAD)

exit codes: 0 recorded, 2 missing context or invalid payload (the field is named)"""

CONTEXT = (("run", "METAWSM_RUN"), ("ticket", "METAWSM_TICKET"), ("agent", "METAWSM_AGENT"),
           ("attempt", "METAWSM_ATTEMPT"))


def add_context(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("context (default: from the environment)")
    for name, var in CONTEXT:
        g.add_argument(f"--{name}", dest=f"ctx_{name}", metavar=name.upper(), help=f"default ${var}")


def context(args: argparse.Namespace) -> dict[str, Any]:
    """run, ticket, agent, attempt from flags, else the environment; UsageError naming what is missing."""
    found: dict[str, Any] = {}
    for name, var in CONTEXT:
        value = getattr(args, f"ctx_{name}", None) or os.environ.get(var, "").strip()
        if not value:
            raise UsageError(f"{var} is not set and --{name} was not given",
                             hint="metawsm sets METAWSM_* in agent sessions; outside one pass the flags")
        found[name] = value
    from metawsm.forum.ids import agent_key

    found["agent_name"] = found["agent"]
    found["agent"] = agent_key(found["ticket"], found["agent"])
    from metawsm.forum.bounds import MAX_ATTEMPT

    try:
        found["attempt"] = int(found["attempt"], 10)
    except ValueError as exc:
        raise UsageError(f"attempt {found['attempt'][:40]!r} is not a number (METAWSM_ATTEMPT or --attempt)") from exc
    if not 1 <= found["attempt"] <= MAX_ATTEMPT:
        raise UsageError(f"attempt {found['attempt']} is out of range "
                         f"(1 to {MAX_ATTEMPT}; METAWSM_ATTEMPT or --attempt)")
    return found


def _sha(args: argparse.Namespace) -> str:
    """--sha, else the HEAD commit of the current directory (one git process)."""
    if getattr(args, "sha", None):
        return str(args.sha).strip().lower()
    import subprocess

    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError("cannot find the HEAD commit here; pass --sha", hint=proc.stderr.strip() or None)
    return proc.stdout.strip()


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "signal", help=HELP, description=DESCRIPTION)
    sub = p.add_subparsers(dest="signal_type", metavar="SIGNAL", parser_class=type(p))
    s = add_command(sub, "guidance-request", help="ask for guidance (does not wait; see `metawsm ask`)",
                    description="Record a guidance_request; the thread moves to waiting_human.")
    s.add_argument("--question", required=True)
    s.add_argument("--context", dest="context_text", metavar="TEXT")
    s.set_defaults(run=run, control_type="guidance_request")
    s = add_command(sub, "completion", help="report the work done",
                    description="Record completion for the current attempt.")
    s.add_argument("--summary")
    s.set_defaults(run=run, control_type="completion")
    s = add_command(sub, "validation", help="report validation of a commit",
                    description="Record a validation result for the git sha that was validated.")
    s.add_argument("--status", required=True, help="passed or failed")
    s.add_argument("--done-criteria", required=True)
    s.add_argument("--sha", help="the validated commit (default: HEAD of the current directory)")
    s.add_argument("--output-tail", help="the last lines of the validation output")
    s.set_defaults(run=run, control_type="validation")
    for s in sub.choices.values():
        add_context(s)
        s.add_argument("--idempotency-key", help="a retry with the same key records nothing new")
        s.add_argument("--server", metavar="URL", help="send the signal to a `metawsm serve` daemon "
                       "(default $METAWSM_SERVER)")


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.forum_common import open_forum

    ctx = context(args)
    fields = {
        "question": getattr(args, "question", None), "context": getattr(args, "context_text", None),
        "summary": getattr(args, "summary", None),
        "status": args.status.strip().lower() if getattr(args, "status", None) else None,
        "done_criteria": getattr(args, "done_criteria", None),
        "sha": _sha(args) if args.control_type == "validation" else None,
        "output_tail": getattr(args, "output_tail", None),
    }
    forum = open_forum(args, policy=False)
    event = forum.signal(ctx["run"], ctx["ticket"], ctx["agent"], ctx["attempt"], args.control_type,
                         actor_type="agent", actor_name=ctx["agent"], idempotency_key=args.idempotency_key,
                         **fields)
    kick_reconcile(ctx["run"])
    if args.out.json_mode:
        args.out.ndjson({"event": event})
    else:
        args.out.text(f"{args.control_type} recorded (#{event.sequence} in {event.thread_id})")
    return 0
