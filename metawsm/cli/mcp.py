"""metawsm mcp: the stdio MCP server metawsm configures for every AI agent it starts."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "serve the agent's metawsm tools over MCP on stdio (for AI agents)"
DESCRIPTION = """\
Run a Model Context Protocol server on stdin/stdout with the tools an agent reports through:
signal_completion, signal_validation, signal_review (a reviewer's verdict), ask_human (blocks until
answered, with progress notifications), forum_post and ticket_context. The run, ticket, agent and
attempt come from METAWSM_HOME, METAWSM_RUN, METAWSM_TICKET, METAWSM_AGENT and METAWSM_ATTEMPT, which
metawsm sets in every agent session; metawsm writes the CLIs' MCP config (Claude Code --mcp-config,
Codex mcp_servers) so they start it.

exit codes: 0 the client closed the connection, 2 not inside an agent session (a METAWSM_* variable is
missing)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "mcp", help=HELP, description=DESCRIPTION)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.agents.mcpserver import serve

    serve()
    return 0
