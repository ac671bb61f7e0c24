"""Go metawsm verbs that only made sense with its external tools (docmgr, gh), and any this metawsm does not
have yet (NOT_YET, empty since `pr` exists): each answers with what replaces it here, exit 2 — never
argparse's "invalid choice"."""

from __future__ import annotations

from typing import Any

from metawsm.cli.common import add_command
from metawsm.errors import UsageError

REPLACED = {
    "bootstrap": ("the Go metawsm's bootstrap (docmgr intake, a brief, then a run)",
                  "write the ticket as tickets/ID.yaml (goal, done_criteria, repos), then `metawsm run --ticket ID "
                  "--agent PROFILE` (or a plan and `metawsm apply`); agents ask questions with `metawsm ask`"),
    "docs": ("the Go metawsm's docmgr federation view",
             "tickets are YAML files in tickets/ (`metawsm validate`), questions and answers live in the forum "
             "(`metawsm forum list`), and each closed ticket gets tickets/ID.changelog.md"),
    "auth": ("`auth check` (the gh login and git push readiness of the Go metawsm's commit/pr automation)",
             "`metawsm pr` opens pull requests through gh (it refuses clearly when gh is missing); `metawsm "
             "gate --ticket ID` checks what closing a ticket needs"),
    "review": ("`review sync` (GitHub pull-request review comments fed back to agents)",
               "answer agents in the forum (`metawsm forum answer THREAD_ID`), or restart an agent with new "
               "instructions (`metawsm restart --agent NAME`)"),
}
NOT_YET: dict[str, tuple[str, str]] = {}


def add_named_parser(subparsers: Any, name: str) -> None:
    what, instead = REPLACED.get(name) or NOT_YET[name]
    status = "not in this metawsm yet" if name in NOT_YET else "not part of this metawsm"
    p = add_command(subparsers, name, help=f"Go metawsm verb, {status}: says what replaces it",
                    description=f"{what} is {status}.\nInstead: {instead}.\n\nexit codes: 2 always")
    p.set_defaults(run=lambda args: _refuse(name))


def _refuse(name: str) -> int:
    what, instead = REPLACED.get(name) or NOT_YET[name]
    status = "not in this metawsm yet" if name in NOT_YET else "not part of this metawsm"
    raise UsageError(f"metawsm {name}: {what} is {status}", hint=f"instead: {instead}")
