"""metawsm run: the Go metawsm's imperative verb — `apply` of an implicit plan for the given tickets
and agents, written to plans/ like any plan (so plan, apply, status, close … all work on it)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from metawsm.cli.common import add_command, repository

HELP = "apply an implicit plan for --ticket(s) and --agent(s) (the Go metawsm's `run`)"
DESCRIPTION = """\
Write plans/run-<tickets>.yaml (tickets, and one agent per --agent, each of the agent profile of that
name), then `metawsm apply` it. Tickets must exist as tickets/<ID>.yaml (`metawsm import-go` writes
them from a Go metawsm store). --repos must name the tickets' repos (policy.repos names, `self`, or
this repository's folder name for `self`); --base-branch must be the policy's workspace.base_branch
(a leading `origin/` is ignored). Multi-value flags repeat or take commas, as in the Go metawsm.
--dry-run applies nothing and writes no plan file (it shows what apply would do).

exit codes: as `metawsm apply`; 2 unknown ticket, agent profile, repo or base branch"""

MARK = "# Written by `metawsm run`"


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "run", help=HELP, description=DESCRIPTION)
    p.add_argument("--ticket", action="append", required=True, metavar="ID", help="a ticket (repeat or commas)")
    p.add_argument("--agent", action="append", metavar="PROFILE", help="an agent profile (repeat or commas)")
    p.add_argument("--repos", action="append", metavar="REPO", help="the tickets' repos, checked (repeat or commas)")
    p.add_argument("--base-branch", metavar="BRANCH", help="checked against workspace.base_branch")
    p.add_argument("--policy", metavar="PATH", help="accepted when it is this repository's policy")
    p.add_argument("--wait", action="store_true", help="follow the run live (as apply --wait)")
    p.add_argument("--dry-run", action="store_true", help="show what would happen; write and change nothing")
    p.set_defaults(run=run)


def tokens(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated values, de-duplicated in order (as the Go metawsm)."""
    out: list[str] = []
    for value in values or []:
        for item in value.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def plan_text(name: str, tickets: list[str], agents: list[str]) -> str:
    lines = [f"{MARK} (the imperative form of apply); edit it or apply it again with `metawsm apply`.",
             f"name: {name}", "tickets: [" + ", ".join(tickets) + "]", "agents:"]
    lines += [f"  - {{name: {a}, profile: {a}}}" for a in agents]
    return "\n".join(lines) + "\n"


def _check(proj: Any, args: argparse.Namespace, tickets: list[str], agents: list[str]) -> None:
    from metawsm.config.loader import load
    from metawsm.errors import UsageError

    config = load(proj)
    policy = config.policy
    if not agents:
        raise UsageError("which agent? --agent PROFILE", hint="profiles: " + ", ".join(sorted(policy.agent_profiles)))
    for a in agents:
        if a not in policy.agent_profiles:
            raise UsageError(f"--agent {a}: no agent profile of that name",
                             hint="profiles: " + ", ".join(sorted(policy.agent_profiles))
                             + " (`metawsm policy-init` translates a Go policy's agents into profiles)")
    known = {t.casefold(): t for t in config.tickets}
    for i, t in enumerate(tickets):
        if t.casefold() not in known:
            raise UsageError(f"--ticket {t}: no tickets/{t}.yaml",
                             hint="write it (id, title, goal, done_criteria), or bring a Go store over with "
                                  "`metawsm import-go`")
        tickets[i] = known[t.casefold()]
    repos = tokens(args.repos)
    if repos:
        mapped = {"self" if r in ("self", proj.root.name) else r for r in repos}
        unknown = sorted(mapped - {"self"} - set(policy.repos))
        if unknown:
            raise UsageError(f"--repos: unknown repo {', '.join(unknown)}",
                             hint="repos are `self` (or " + proj.root.name + ") and policy.repos: "
                                  + (", ".join(sorted(policy.repos)) or "none"))
        for t in tickets:
            if set(config.tickets[t].repos) != mapped:
                raise UsageError(f"--repos {','.join(repos)}: ticket {t} works in {', '.join(config.tickets[t].repos)}",
                                 hint=f"edit repos in tickets/{t}.yaml")
    if args.base_branch:
        base = args.base_branch.removeprefix("origin/")
        if base != policy.workspace.base_branch:
            raise UsageError(f"--base-branch {args.base_branch}: this repository's base branch is "
                             f"{policy.workspace.base_branch}",
                             hint="set workspace.base_branch in .metawsm/policy.yaml")
    if args.policy and Path(args.cwd, args.policy).resolve() != proj.policy_path.resolve():
        raise UsageError(f"--policy {args.policy}: the policy is {proj.policy_path}",
                         hint="a Go policy.json is translated with `metawsm policy-init`")


def run(args: argparse.Namespace) -> int:
    from metawsm.cli import apply
    from metawsm.errors import MetawsmError

    proj = repository(args)
    tickets, agents = tokens(args.ticket), tokens(args.agent)
    _check(proj, args, tickets, agents)
    name = "run-" + re.sub(r"[^a-z0-9-]+", "-", "-".join(tickets).lower()).strip("-")[:60]
    text = plan_text(name, tickets, agents)
    path = proj.plans_dir / f"{name}.yaml"
    if args.dry_run:
        path = proj.metawsm_dir / "state" / "dry-run" / "plans" / f"{name}.yaml"  # a plans/ folder: a plan
    elif path.exists() and not path.read_text(encoding="utf-8").startswith(MARK):
        raise MetawsmError(f"{proj.display(path)} exists and was not written by `metawsm run`",
                           hint=f"apply it with `metawsm apply {proj.display(path)}`")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    try:
        ns = argparse.Namespace(**{**vars(args), "plans": [str(path)], "max_parallel": None, "timeout": None})
        return apply.run(ns)
    finally:
        if args.dry_run:
            path.unlink(missing_ok=True)
