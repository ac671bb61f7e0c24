"""metawsm validate: check tickets, plans and policy against their schemas and each other."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project, resolve_path

HELP = "validate tickets, plans and policy"
DESCRIPTION = """\
Validate the repository's metawsm files (.metawsm/policy.yaml, tickets/*.yaml, plans/*.yaml), or only
those given, against their JSON Schemas and each other (unknown tickets or profiles, duplicate ids,
file names that differ from ticket ids, unknown repos). Every error is reported with file:line:col
and key path. Warnings (a plan without checks while the close gate requires validation, so its
tickets could never pass) go to stderr and do not change the exit status.

exit codes: 0 valid (warnings included), 2 errors found"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "validate", help=HELP, description=DESCRIPTION)
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to validate (default: all)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from metawsm.config import loader
    from metawsm.errors import ConfigError

    proj = project(args)
    paths = [resolve_path(args, p) for p in args.paths]
    for path in paths:
        if not path.is_file():
            from metawsm.errors import UsageError

            raise UsageError(f"{path}: no such file")
    checked, diags = loader.verify(proj, extra=paths)  # no typed models needed: see config/loader.py
    if paths:
        wanted = {proj.display(p) for p in paths}
        diags = [d for d in diags if d.file in wanted]
        files = sorted(wanted)
    else:
        files = list(checked.files) if checked else sorted({d.file for d in diags})
    if diags:
        raise ConfigError(diags, hint="fix the files above, then run `metawsm validate` again")
    summary: dict[str, Any] = {"valid": True, "files": files}
    warnings: list[str] = []
    if checked is not None:
        wanted_files = set(files)
        warnings = [text for source, text in checked.warnings if not paths or source in wanted_files]
        summary.update(tickets=len(checked.tickets), plans=sorted(checked.plans))
        if warnings:  # the key is there only when there is something to say
            summary["warnings"] = warnings
    for warning in warnings:
        args.out.warn(warning)
    if args.out.json_mode:
        args.out.result(summary)
    else:  # plain text: this one line is not worth importing rich for
        counts = f" ({len(checked.tickets)} tickets, {len(checked.plans)} plans)" if checked else ""
        args.out.text(f"ok: {len(files)} file{'s' if len(files) != 1 else ''} valid{counts}")
    return 0
