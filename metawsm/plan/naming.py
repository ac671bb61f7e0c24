"""Deterministic names and paths: tmux sessions, ticket branches, ticket worktrees.

Everything here is a pure function of the policy and the ticket, so the planner, the engine and
`metawsm status` agree on every name without asking each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from metawsm.config.models import Policy, Ticket

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")
SESSION_TOKENS = ("plan", "ticket", "agent", "run")


@lru_cache(maxsize=8192)
def sanitize(token: str) -> str:
    """Keep letters, digits, '_' and '-'; every other run of characters becomes one '-'.

    Leading and trailing dashes are stripped; an empty result becomes 'x'. Case is kept.
    """
    cleaned = _DASHES.sub("-", _UNSAFE.sub("-", str(token))).strip("-")
    return cleaned or "x"


def session_name(pattern: str, plan: str, ticket: str, agent: str, run: str) -> str:
    """Render a `tmux.session_pattern` ({plan}, {ticket}, {agent}, {run}) into a tmux-safe name.

    Each token is sanitized, then the whole name (so literal text in the pattern cannot bring in
    '.' or ':', which tmux reads as window/pane separators)."""
    values = {"plan": plan, "ticket": ticket, "agent": agent, "run": run}
    name = pattern
    for token in SESSION_TOKENS:
        name = name.replace("{" + token + "}", sanitize(values[token]))
    return sanitize(name)


def branch_name(policy: Policy, ticket_id: str) -> str:
    """The ticket branch: `workspace.branch_prefix` + ticket id."""
    return policy.workspace.branch_prefix + ticket_id


@dataclass(frozen=True)
class WorkspacePaths:
    """Where a ticket's worktrees live.

    `path` is the ticket's folder: the worktree itself when the ticket has one repo, else the
    folder holding one worktree per repo. `repos` maps repo name → worktree path,
    `repo_roots` repo name → main checkout, `base_branches` repo name → branch cut from."""

    path: Path
    branch: str
    base_branch: str
    repos: dict[str, Path] = field(default_factory=dict)
    repo_roots: dict[str, Path] = field(default_factory=dict)
    base_branches: dict[str, str] = field(default_factory=dict)


def repo_root(project_root: Path, policy: Policy, name: str) -> Path:
    """The main checkout of a repo: `self` is the project root, others come from `policy.repos`."""
    if name == "self":
        return project_root
    path = Path(policy.repos[name].path)
    return path if path.is_absolute() else project_root / path


def workspaces_root(project_root: Path, policy: Policy) -> Path:
    root = Path(policy.workspace.root)
    return root if root.is_absolute() else project_root / root


def workspace_paths(project_root: Path, policy: Policy, ticket: Ticket) -> WorkspacePaths:
    folder = workspaces_root(project_root, policy) / ticket.id
    single = len(ticket.repos) == 1
    repos: dict[str, Path] = {}
    roots: dict[str, Path] = {}
    bases: dict[str, str] = {}
    for name in ticket.repos:
        repos[name] = folder if single else folder / sanitize(name)
        roots[name] = repo_root(project_root, policy, name)
        spec = policy.repos.get(name)
        bases[name] = (spec.base_branch if spec and spec.base_branch else None) or policy.workspace.base_branch
    base = bases[ticket.repos[0]] if single else policy.workspace.base_branch
    return WorkspacePaths(folder, branch_name(policy, ticket.id), base, repos, roots, bases)
