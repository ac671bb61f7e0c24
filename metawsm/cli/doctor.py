"""metawsm doctor: what metawsm finds about the tools agents need."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command

HELP = "check git, tmux, the AI CLIs (versions, credentials present) and the MCP server"
DESCRIPTION = """\
Report what metawsm finds: git and tmux; for Claude Code and Codex the binary, its version against the
version metawsm's profiles are tested with (an older one is refused by apply), which credential and endpoint
variables are set — names only, never values — and whether the CLI can log in; and the MCP server agents
report through (`metawsm mcp`). A CLI you do not use may be missing: its lines say so.

exit codes: 0 every check passed, 1 some check failed (each is named)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "doctor", help=HELP, description=DESCRIPTION)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.agents.doctor import run_checks

    checks = run_checks()

    def human(console: Any) -> None:
        for check in checks:
            console.print(f"{'ok ' if check.ok else 'BAD'}  {check.name}: {check.detail}", markup=False,
                          highlight=False)

    args.out.result({"checks": [c.to_json() for c in checks], "ok": all(c.ok for c in checks)}, human)
    return 0 if all(c.ok for c in checks) else 1
