"""Shared CLI wiring: global options on every parser, and helpers commands use."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from metawsm.errors import UsageError


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` gives it (COLUMNS, else the terminal behind
    stdout, else 80) without importing shutil, which brings zlib, bz2, lzma and fnmatch along."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (handled by the one error boundary) instead of exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument (to check the metavar), and a formatter
        # without a width imports shutil to ask for the terminal's; the same width, found without it
        return self.formatter_class(prog=self.prog, width=_columns() - 2)  # type: ignore[call-arg]


def global_options() -> argparse.ArgumentParser:
    """Options accepted before or after the verb. SUPPRESS keeps a later default from overwriting
    a value given earlier."""
    parent = Parser(add_help=False)
    g = parent.add_argument_group("global options")
    g.add_argument("-C", dest="directory", metavar="DIR", default=argparse.SUPPRESS,
                   help="run as if metawsm was started in DIR")
    g.add_argument("--json", dest="json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable JSON on stdout (nothing else is written there)")
    g.add_argument("--no-color", dest="no_color", action="store_true", default=argparse.SUPPRESS,
                   help="no colours (also when NO_COLOR is set)")
    g.add_argument("-v", "--verbose", dest="verbose", action="count", default=argparse.SUPPRESS,
                   help="more diagnostics on stderr")
    g.add_argument("--lock-timeout", dest="lock_timeout", type=float, metavar="S", default=argparse.SUPPRESS,
                   help="wait up to S seconds for a run another command is changing, then exit 1 naming it "
                        "(default 5, or METAWSM_LOCK_TIMEOUT)")
    return parent


GLOBAL = global_options()


def add_command(
    subparsers: Any, name: str, *, help: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """Add a verb (or sub-verb) parser that also takes the global options."""
    return subparsers.add_parser(  # type: ignore[no-any-return]
        name,
        help=help,
        description=description,
        epilog=epilog,
        parents=[GLOBAL],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def project(args: argparse.Namespace) -> Any:
    from metawsm.config.project import Project

    return Project.discover(Path(args.cwd))


def repository(args: argparse.Namespace) -> Any:
    """The project, which must be a metawsm repository (a `.metawsm/` up the tree): nothing is created
    implicitly, except by `metawsm init` (exit 1 otherwise)."""
    proj = project(args)
    if not proj.metawsm_dir.is_dir():
        from metawsm.errors import MetawsmError

        raise MetawsmError(f"no metawsm repository at {proj.root} (no .metawsm/ there or above {args.cwd})",
                           hint="run `metawsm init` in your repository, or talk to a daemon with --server URL "
                                "(or METAWSM_SERVER)")
    return proj


def resolve_path(args: argparse.Namespace, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else Path(args.cwd) / path
