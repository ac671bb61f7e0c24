"""The Go metawsm's command-line spellings, accepted as documented aliases (docs/commands.md,
"Go metawsm command lines"): shared options and the argv rewrites that `main` applies before parsing.
Imports nothing heavy: every command start goes through here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from metawsm.errors import UsageError

GO_DB = ".metawsm/metawsm.db"


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help=f"Go metawsm spelling, accepted only as this repository's {GO_DB} "
                   "(state lives in .metawsm/state/; `metawsm import-go` brings a Go store over)")


def check_db(args: argparse.Namespace, proj: Any) -> None:
    """Accept `--db` when it names this repository's Go store path (nothing to map: state lives in
    .metawsm/state/), refuse any other path with what replaced it."""
    value = getattr(args, "db", None)
    if not value:
        return
    path = Path(value)
    path = (path if path.is_absolute() else Path(args.cwd) / path).resolve()
    if path == (proj.root / GO_DB).resolve():
        return
    raise UsageError(f"--db {value}: this metawsm keeps its state in {proj.root / '.metawsm' / 'state'}, "
                     "not in a database you choose",
                     hint="run from the repository whose state you mean (or -C DIR); to bring a Go metawsm "
                          "store over, run `metawsm import-go --db PATH`")
