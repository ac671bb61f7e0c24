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
    p.add_argument("--db", dest="go_db", metavar="PATH",
                   help=f"Go metawsm spelling, accepted only as this repository's {GO_DB} (state lives "
                   "in .metawsm/state/; `metawsm import-go` brings a Go store over)")


def check_db(args: argparse.Namespace, proj: Any) -> None:
    """Accept `--db` when it names this repository's Go store path (nothing to map: state lives in
    .metawsm/state/), refuse any other path with what replaced it."""
    value = getattr(args, "go_db", None)
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


# -- aliases added to the built parser tree ------------------------------------------------------
def add_aliases(parser: argparse.ArgumentParser) -> None:
    """Give every parser that selects a run with `--run` the Go spellings `--run-id` (same option)
    and `--db` (checked by `normalize`)."""
    seen: set[int] = set()
    stack = [parser]
    while stack:
        p = stack.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        for action in list(p._actions):
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif "--run" in action.option_strings and "--run-id" not in p._option_string_actions:
                action.option_strings = [*action.option_strings, "--run-id"]
                p._option_string_actions["--run-id"] = action
                if "--db" not in p._option_string_actions:
                    add_db(p)


# cli/retired.py: verbs whose arguments are not parsed (they only say what replaces them)
RETIRED = ("bootstrap", "docs", "auth", "review")


def rewrite(argv: list[str]) -> list[str]:
    """Go spellings argparse cannot take as they are: `--bell=true|false` (a flag here), and the
    arguments of a retired Go verb (dropped: the verb only says what replaces it)."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "-C":
            skip = True
        elif not arg.startswith("-"):
            if arg in RETIRED:
                kept = ("--json", "--no-color", "-h", "--help")
                return argv[:i + 1] + [a for a in argv[i + 1:] if a in kept]
            break
    out = []
    for arg in argv:
        if arg.startswith("--bell="):
            value = arg.partition("=")[2].strip().lower()
            if value in ("true", "1", "yes"):
                out.append("--bell")
                continue
            if value in ("false", "0", "no"):
                continue
            raise UsageError(f"{arg}: expected --bell, --bell=true or --bell=false")
        out.append(arg)
    return out


def normalize(args: argparse.Namespace) -> None:
    """Fold the Go flags into the arguments the commands read: `--thread-id`, `--state`,
    `--priority` beside the positionals, `--assignee`/`--assignee-type` for `--to`; check `--db`."""
    for name in ("thread_id", "state", "priority"):
        flag = getattr(args, f"go_{name}", None)
        if flag is None:
            continue
        given = getattr(args, name, None)
        if given is not None and given != flag:
            raise UsageError(f"{name.upper()} given twice ({given!r} and --{name.replace('_', '-')} {flag!r})")
        setattr(args, name, flag)
    for name in ("thread_id", "state", "priority"):
        if hasattr(args, f"go_{name}") and getattr(args, name, None) is None:
            raise UsageError(f"{name.upper()} is required (or --{name.replace('_', '-')})",
                             hint=f"see `metawsm forum {getattr(args, 'forum_command', '')} --help`")
    if hasattr(args, "go_assignee"):
        if args.to and args.go_assignee:
            raise UsageError("give --to KIND:NAME or --assignee NAME, not both")
        if not args.to:
            if not args.go_assignee:
                raise UsageError("an assignee is required: --to KIND:NAME (or --assignee NAME [--assignee-type KIND])")
            args.to = f"{args.go_assignee_type or 'operator'}:{args.go_assignee}"
    if getattr(args, "go_db", None):
        from metawsm.config.project import Project

        check_db(args, Project.discover(Path(args.cwd)))
