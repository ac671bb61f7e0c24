"""`metawsm diff`: what each ticket branch changes against its base, per repository (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metawsm.errors import NotFoundError
from metawsm.plan.steps import WorkspaceStep, typed
from metawsm.runtime import git
from metawsm.runtime.gitdiff import BranchDiff, branch_diff

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state import StateStore
    from metawsm.state.models import Run


@dataclass(frozen=True)
class RepoDiff:
    repo: str  # the policy's repo name ("self" for this repository)
    branch: str
    base_branch: str
    diff: BranchDiff

    def to_json(self, *, patch: bool = True) -> dict[str, Any]:
        d = self.diff
        return {"repo": self.repo, "branch": self.branch, "base_branch": self.base_branch, "base": d.base,
                "head": d.head, "additions": d.additions, "deletions": d.deletions,
                "files": [f.to_json(patch=patch) for f in d.files],
                "commits": [c.to_json() for c in d.commits]}


@dataclass(frozen=True)
class TicketDiff:
    ticket: str
    run_id: str
    repos: tuple[RepoDiff, ...]

    def to_json(self, *, patch: bool = True) -> dict[str, Any]:
        return {"ticket": self.ticket, "run_id": self.run_id,
                "files_changed": sum(len(r.diff.files) for r in self.repos),
                "additions": sum(r.diff.additions for r in self.repos),
                "deletions": sum(r.diff.deletions for r in self.repos),
                "repos": [r.to_json(patch=patch) for r in self.repos]}


def workspace_of(store: StateStore, run: Run, ticket: str) -> WorkspaceStep:
    try:
        step = store.get_step(run.run_id, f"workspace:{ticket}")
    except NotFoundError as exc:
        raise NotFoundError(f"ticket {ticket} is not part of run {run.run_id}") from exc
    return typed(step, WorkspaceStep)


def ticket_diff(store: StateStore, run: Run, ticket: str, *, patch: bool = True) -> TicketDiff:
    """The diff of `ticket`'s branch in every repository of its workspace (the primary one first). Reads
    only state.db and git (no policy, no forum): `metawsm diff T` starts fast."""
    ws = workspace_of(store, run, ticket)
    branch = ws.branch
    repos = ws.repos_in_order()
    if not branch or not repos:
        raise NotFoundError(f"ticket {ticket} has no workspace recorded in run {run.run_id}",
                            hint=f"start it with `metawsm apply {run.plan_name}`")
    out: list[RepoDiff] = []
    for name, r in repos:
        root, base = r.repo_root, r.base_branch
        if not git.branch_exists(root, branch):
            state = store.get_ticket(ticket)
            why = " (it was merged and its branch deleted)" if state and state.status == "merged" else ""
            raise NotFoundError(f"{ticket}: branch {branch} does not exist in {root}{why}",
                                hint=f"`git -C {root} log {base}` shows what was merged")
        out.append(RepoDiff(name, branch, base, branch_diff(root, base, branch, patch=patch)))
    return TicketDiff(ticket, run.run_id, tuple(out))


def run_of_ticket(store: StateStore, ticket: str) -> Run | None:
    """The run `ticket`'s recorded state names (None when there is none: ask closeplan.run_for_ticket)."""
    state = store.get_ticket(ticket)
    if state is None or not state.run_id:
        return None
    try:
        return store.get_run(state.run_id)
    except NotFoundError:
        return None


def tickets_to_diff(eng: Engine, runs: list[Run], ticket: str | None) -> list[tuple[Run, str]]:
    """(run, ticket) pairs: the one named (its current or newest run), else every open ticket of `runs`."""
    from metawsm.engine.closeplan import run_for_ticket
    from metawsm.engine.tickets import graph_of

    if ticket is not None:
        return [(run_for_ticket(eng, ticket), ticket)]
    pairs: list[tuple[Run, str]] = []
    seen: set[str] = set()
    for run in runs:
        closed = eng.store.closed_tickets(run.run_id)
        for t in graph_of(run).tickets:
            if t not in seen and t not in closed:
                seen.add(t)
                pairs.append((run, t))
    return pairs
