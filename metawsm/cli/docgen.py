"""docs/commands.md from the argparse tree: every command and sub-command, its description and options.

Regenerate with `python -m metawsm.cli.docgen > docs/commands.md`; tests/cli/test_commands_doc.py fails
when the file and the parsers drift apart.
"""

from __future__ import annotations

import argparse
import sys

from metawsm.cli.common import GLOBAL
from metawsm.cli.main import build_parser

REGENERATE = "python -m metawsm.cli.docgen > docs/commands.md"
WIDTH = 100  # usage lines are wrapped at a fixed width, whatever the terminal

HEADER = f"""\
# Commands

Generated from the command-line parsers by `{REGENERATE}` — do not edit by hand; a test fails when
this file and the parsers drift apart. `metawsm COMMAND --help` shows the same text.
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _global_dests() -> set[str]:
    return {a.dest for a in GLOBAL._actions}


def _options(parser: argparse.ArgumentParser, skip: set[str]) -> list[str]:
    fmt = _formatter(parser.prog)
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.dest in skip:
            continue
        if action.help == argparse.SUPPRESS:
            continue
        invocation = fmt._format_action_invocation(action)
        if action.nargs in ("*", "+") and not action.option_strings:
            invocation += " ..."
        rows.append(f"| `{invocation}` | {_cell(fmt._expand_help(action) if action.help else '')} |")
    if not rows:
        return []
    return ["| option | description |", "|---|---|", *rows, ""]


def _usage(parser: argparse.ArgumentParser) -> str:
    fmt = _formatter(parser.prog)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return fmt.format_help().strip()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _anchor(prog: str) -> str:
    return prog.replace(" ", "-")


def _section(parser: argparse.ArgumentParser, summary: str, level: int, skip: set[str]) -> list[str]:
    lines = [f"{'#' * level} {parser.prog}", ""]
    if summary:
        lines += [f"*{summary}*", ""]
    lines += ["```", _usage(parser), "```", ""]
    if parser.description:
        lines += [parser.description.rstrip(), ""]
    lines += _options(parser, skip)
    subs = _subcommands(parser)
    if subs:
        lines += ["Sub-commands:", ""]
        lines += [f"- [`{sub.prog}`](#{_anchor(sub.prog)}) — {_cell(h)}" for _, h, sub in subs]
        lines.append("")
        for _, h, sub in subs:
            lines += _section(sub, h, level + 1, skip)
    return lines


def generate() -> str:
    root = build_parser()
    root.prog = "metawsm"
    skip = _global_dests()
    lines = [HEADER]
    lines += ["## Global options", "", "Accepted by every command, before or after the verb.", ""]
    lines += _options(GLOBAL, set())
    lines += ["## Commands", ""]
    lines += [f"- [`{sub.prog}`](#{_anchor(sub.prog)}) — {_cell(h)}" for _, h, sub in _subcommands(root)]
    lines.append("")
    if root.epilog:
        lines += [root.epilog.strip(), ""]
    for _, h, sub in _subcommands(root):
        lines += _section(sub, h, 2, skip)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
