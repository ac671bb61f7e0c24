"""metawsm schema: print or write the JSON Schemas, for editors."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, resolve_path

HELP = "print or write the JSON Schemas for editors"
DESCRIPTION = """\
Print the JSON Schemas of tickets, plans and the policy (draft 2020-12), or write them into a
folder with --out. Point your editor at them, e.g. with a first line
  # yaml-language-server: $schema=../.metawsm/schemas/ticket.json

exit codes: 0 ok, 1 cannot write"""

KINDS = ("policy", "ticket", "plan")


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "schema", help=HELP, description=DESCRIPTION)
    p.add_argument("kind", nargs="?", choices=KINDS, help="only this schema")
    p.add_argument("--out", dest="out_dir", metavar="DIR", help="write <kind>.json files into DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.config.scaffold import write_schemas
    from metawsm.config.schemas import load_schema
    from metawsm.output import dumps

    kinds = [args.kind] if args.kind else list(KINDS)
    if args.out_dir:
        written = write_schemas(resolve_path(args, args.out_dir), kinds)
        args.out.result({"written": [str(p) for p in written]},
                        lambda c: [c.print(f"wrote {p}") for p in written] and None)
        return 0
    doc = load_schema(kinds[0]) if len(kinds) == 1 else {k: load_schema(k) for k in kinds}
    args.out.raw(dumps(doc) + "\n")
    return 0
