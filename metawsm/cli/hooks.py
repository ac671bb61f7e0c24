"""metawsm hooks: install, remove or inspect the close-gate git hooks (pre-commit, pre-push)."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "install, remove or inspect the close-gate git hooks"
DESCRIPTION = """\
metawsm's git hooks enforce the close gate where work happens:

  pre-commit  validates the staged policy, ticket and plan files (their staged content) and
              refuses staged files matching close.forbidden_file_patterns
  pre-push    refuses to push a ticket branch (<branch_prefix><TICKET>) unless the ticket's gate
              passes at the pushed commit: validation recorded for that sha, clean worktree,
              every agent's completion, no forbidden files

They are written to the repository's common git dir, so every linked worktree (including the ones
metawsm creates) runs them; when core.hooksPath is set they go there instead. A hook that was
already there is kept as <hook>.legacy and runs first. `git commit/push --no-verify` skips them,
but `metawsm close` re-checks the gate before merging. See docs/hooks.md.

exit codes: 0 ok (status: all installed and up to date), 1 refused or not installed, 2 usage"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "hooks", help=HELP, description=DESCRIPTION)
    sub = p.add_subparsers(dest="hooks_command", metavar="SUBCOMMAND", parser_class=type(p))
    s = add_command(sub, "install", help="install pre-commit and pre-push (idempotent)",
                    description="Install (or update) metawsm's pre-commit and pre-push hooks. An existing "
                                "foreign hook is kept as <hook>.legacy and chained.\n\n"
                                "exit codes: 0 installed, 1 refused")
    s.add_argument("--force", action="store_true",
                   help="install even when core.hooksPath points outside the repository")
    s.set_defaults(run=run_install)
    s = add_command(sub, "uninstall", help="remove metawsm's hooks, restoring any <hook>.legacy",
                    description="Remove metawsm's hooks and restore the hooks they chained. Hooks that are not "
                                "metawsm's are left alone.")
    s.set_defaults(run=run_uninstall)
    s = add_command(sub, "status", help="per hook: installed, ours, legacy chained, up to date",
                    description="Show, per hook: installed, metawsm's, chaining a legacy hook, up to date.\n\n"
                                "exit codes: 0 both installed and up to date, 1 otherwise")
    s.set_defaults(run=run_status)


def _print_outcome(console: Any, outcome: Any) -> None:
    console.print(f"hooks folder: {outcome.dir.path} ({outcome.dir.source})", markup=False, highlight=False)
    for line in outcome.actions:
        console.print(f"  {line}", markup=False, highlight=False)
    for note in outcome.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def run_install(args: argparse.Namespace) -> int:
    from metawsm.gate.hooks import install

    outcome = install(project(args).root, force=args.force)
    args.out.result(outcome.to_json(), lambda c: _print_outcome(c, outcome))
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from metawsm.gate.hooks import uninstall

    outcome = uninstall(project(args).root)
    args.out.result(outcome.to_json(), lambda c: _print_outcome(c, outcome))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from metawsm.gate.hooks import status

    folder, hooks = status(project(args).root)
    ok = all(h.ours and h.up_to_date for h in hooks)

    def human(console: Any) -> None:
        console.print(f"hooks folder: {folder.path} ({folder.source})", markup=False, highlight=False)
        for h in hooks:
            def yes(flag: bool) -> str:
                return "yes" if flag else "no"
            console.print(f"  {h.name:<11} installed: {yes(h.installed):<3}  ours: {yes(h.ours):<3}  "
                          f"legacy chained: {yes(h.legacy_chained):<3}  up to date: {yes(h.up_to_date)}",
                          markup=False, highlight=False)
            if h.legacy and not h.ours:
                console.print(f"  {'':<11} {h.name}.legacy exists but is not chained (the hook is not metawsm's)",
                              markup=False, highlight=False)
        if not ok:
            console.print("install or update them: metawsm hooks install", markup=False, highlight=False)

    args.out.result({"hooks_dir": folder.to_json(), "ok": ok, "hooks": [h.to_json() for h in hooks]}, human)
    return 0 if ok else 1
