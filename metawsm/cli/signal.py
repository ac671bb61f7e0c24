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

HELP = "signal guidance requests, completion, validation and review verdicts (for agents)"
DESCRIPTION = """\
Record a control signal in the agent's control thread (fctrl-<run>-<agent>). The run, ticket,
agent and attempt come from METAWSM_RUN, METAWSM_TICKET, METAWSM_AGENT and METAWSM_ATTEMPT (set by
metawsm in every agent session) and the repository from METAWSM_HOME; flags override them.

  metawsm signal guidance-request --question "Which database?" [--context …]
  metawsm signal completion [--summary "Implemented X; tests pass"]
  metawsm signal validation --status passed --done-criteria "tests pass" --sha $(git rev-parse HEAD)
  metawsm signal review --status changes_requested --note "rename foo to bar"   (a reviewer's verdict)

exit codes: 0 recorded, 1 the note file cannot be read, 2 missing context or invalid payload (the field is
named)"""
REVIEW_DESCRIPTION = """\
Record a reviewer's verdict on the ticket's HEAD commit (or --sha) for the current attempt: approved, or
changes_requested with a note saying what to change. The verdict also completes the reviewer's attempt.
The close gate's `review` check passes only when every reviewer of the ticket approved its current HEAD;
with policy review.auto_iterate, changes_requested starts the next round with the note as feedback.

  metawsm signal review --status approved
  metawsm signal review --status changes_requested --note-file review.md

exit codes: 0 recorded, 1 the note file cannot be read, 2 missing context or invalid payload (the field is
named)"""
MAX_NOTE_BYTES = 60_000  # the note becomes a round's feedback (engine/iterate.py's bound)

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
    s = add_command(sub, "review", help="give a reviewer's verdict on the ticket's HEAD",
                    description=REVIEW_DESCRIPTION)
    s.add_argument("--status", "--verdict", required=True, dest="status",
                   help="approved or changes_requested (also: approve, request-changes)")
    note = s.add_mutually_exclusive_group()
    note.add_argument("--note", "--summary", dest="note", help="what to change (or why it is approved)")
    note.add_argument("--note-file", metavar="FILE", help="read the note from FILE ('-': stdin)")
    s.add_argument("--sha", help="the reviewed commit (default: HEAD of the current directory)")
    s.set_defaults(run=run, control_type="review")
    for s in sub.choices.values():
        add_context(s)
        s.add_argument("--idempotency-key", help="a retry with the same key records nothing new")
        s.add_argument("--server", metavar="URL", help="send the signal to a `metawsm serve` daemon "
                       "(default $METAWSM_SERVER)")


def run(args: argparse.Namespace) -> int:
    from metawsm.cli.forum_common import open_forum

    ctx = context(args)
    if args.control_type == "review":
        return _review(args, ctx)
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


def _note(args: argparse.Namespace) -> str | None:
    """--note, or the content of --note-file (a located error when it cannot be read), bounded."""
    text = args.note
    if args.note_file:
        import sys
        from pathlib import Path

        try:
            text = sys.stdin.read() if args.note_file == "-" else Path(args.note_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            from metawsm.errors import MetawsmError

            raise MetawsmError(f"{args.note_file}: cannot read the note: {exc}") from exc
    if text is not None and len(text.encode("utf-8")) > MAX_NOTE_BYTES:
        raise UsageError(f"the note is {len(text.encode('utf-8'))} bytes; at most {MAX_NOTE_BYTES}")
    return text.strip() or None if text is not None else None


def _review(args: argparse.Namespace, ctx: dict[str, Any]) -> int:
    from metawsm.cli.forum_common import open_forum
    from metawsm.forum.control import VERDICTS

    status = VERDICTS.get(args.status.strip().lower())
    if status is None:
        raise UsageError(f"--status {args.status[:40]!r}: must be approved or changes_requested")
    note = _note(args)
    if status == "changes_requested" and not note:
        raise UsageError("changes_requested needs a --note (or --note-file) saying what to change",
                         hint="it becomes the feedback of the next round")
    forum = open_forum(args, policy=False)
    event = forum.signal(ctx["run"], ctx["ticket"], ctx["agent"], ctx["attempt"], "review", status=status,
                         sha=_sha(args), note=note, actor_type="agent", actor_name=ctx["agent"],
                         idempotency_key=args.idempotency_key)
    kick_reconcile(ctx["run"])
    if args.out.json_mode:
        args.out.ndjson({"event": event})
    else:
        args.out.text(f"review {status} recorded for {event.payload['sha'][:12]} "
                      f"(#{event.sequence} in {event.thread_id})")
    return 0
