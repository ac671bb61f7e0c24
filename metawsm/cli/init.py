"""metawsm init: scaffold policy, tickets and plans (and, with --demo, a runnable demo)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "scaffold .metawsm/, tickets/ and plans/ in this repository"
DESCRIPTION = """\
Write .metawsm/policy.yaml (commented defaults), .metawsm/.gitignore (state/, workspaces/),
.metawsm/schemas/*.json (for editors), tickets/EXAMPLE-1.yaml and plans/example.yaml. Each YAML file
starts with a yaml-language-server modeline pointing at its schema.

--demo also writes tickets DEMO-1, DEMO-2 and plans/demo.yaml, whose agents are shell commands
(no network, no AI CLI): `metawsm apply plans/demo.yaml --wait` runs it.

exit codes: 0 written, 1 a file exists (use --force) or cannot be written"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "init", help=HELP, description=DESCRIPTION)
    p.add_argument("--demo", action="store_true", help="also write the runnable demo plan and tickets")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.config.scaffold import init

    proj = project(args)
    result = init(proj, demo=args.demo, force=args.force)

    def human(console: Any) -> None:
        for rel in result["written"]:
            console.print(f"wrote {rel}", markup=False)
        console.print("next: metawsm validate" + ("; metawsm apply plans/demo.yaml --wait" if args.demo else ""),
                      markup=False)

    args.out.result({"root": str(proj.root), **result}, human)
    return 0
