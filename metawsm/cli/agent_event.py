"""metawsm agent-event: the hook command metawsm installs in the AI CLIs it starts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from metawsm.cli.common import add_command

HELP = "record an AI CLI's hook event in the agent's control thread (for CLI hooks)"
DESCRIPTION = """\
Called by the hooks metawsm configures for the agents it starts — Claude Code's SessionStart,
UserPromptSubmit, Stop, Notification and PostToolUse hooks (their JSON on stdin) and Codex's notify program
(its JSON as the last argument) — to post `session started`, `turn started`, `turn finished`, `waiting for
input` or (after a tool call, while the agent was waiting) `working again` in the agent's control thread;
health reads them. The run, ticket, agent and attempt come from the METAWSM_* variables of the
session.

exit codes: 0 recorded, 2 not inside an agent session or an unknown event"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "agent-event", help=HELP, description=DESCRIPTION)
    p.add_argument("kind", choices=("session-start", "prompt", "stop", "notification", "tool-used", "codex"),
                   help="the hook")
    p.add_argument("payload", nargs="?", default=None, help="the event's JSON (Codex passes it here)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.agents.events import parse_payload, record
    from metawsm.agents.mcptools import AgentSession

    session = AgentSession.from_env()
    text = args.payload if args.payload is not None else ("" if sys.stdin.isatty() else sys.stdin.read(65536))
    body = record(session, args.kind, parse_payload(text))
    args.out.result({"recorded": body}, lambda c: None)
    return 0
