"""Plan `worktree: own`: an agent that works on its own branch in its own worktree.

When an attempt starts, the agent's worktree is created from the ticket branch (or, when it is still there,
fast-forwarded to it, so the agent sees what the other agents merged meanwhile). When the agent completes,
its branch is merged into the ticket branch in the ticket's worktree (`git merge --no-ff`); then its worktree
and branch are removed. A conflict is aborted (the ticket's worktree is left as it was), and the agent fails
with the conflicting files and what to do — like a close conflict; its worktree stays for the person.
"""

from __future__ import annotations

from pathlib import Path

from metawsm.errors import MetawsmError
from metawsm.plan.steps import OwnWorktree
from metawsm.runtime import git


def prepare(own: OwnWorktree) -> str:
    """Make the agent's worktree ready for a new attempt; what was done (for the step's note)."""
    if not Path(own.path).is_dir():
        git.add_worktree(own.repo_root, own.path, own.branch, own.ticket_branch)
        return f"own worktree {own.path} on {own.branch} from {own.ticket_branch}"
    moved = git.git(own.path, "merge", "--ff-only", "--quiet", own.ticket_branch, check=False)
    if moved.code == 0:
        return f"own worktree {own.path} brought up to {own.ticket_branch}"
    return f"own worktree {own.path} kept as it is ({own.branch} has diverged from {own.ticket_branch})"


def merge_back(own: OwnWorktree, agent: str, ticket: str) -> str | None:
    """Merge the agent's branch into the ticket branch; None when done, else why it failed (nothing merged)."""
    dirty = git.is_dirty(own.path) if Path(own.path).is_dir() else []
    if dirty:
        return (f"agent {agent} of {ticket} completed with uncommitted files in its own worktree {own.path}: "
                f"{', '.join(dirty[:10])}; commit them there, then `metawsm restart --agent {ticket}/{agent}`")
    merged = git.git(own.ticket_path, "merge", "--no-ff", "--no-edit", "-m",
                     f"Merge {own.branch} ({ticket}/{agent}) into {own.ticket_branch}", own.branch, check=False)
    if merged.code != 0:
        conflicts = git.git(own.ticket_path, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
        git.git(own.ticket_path, "merge", "--abort", check=False)
        if conflicts:
            return (f"merging {own.branch} back into {own.ticket_branch} conflicts in: {', '.join(conflicts[:10])}; "
                    f"nothing was merged. Resolve it in {own.path} (`git merge {own.ticket_branch}`, fix, commit), "
                    f"then `metawsm restart --agent {ticket}/{agent}`")
        why = (merged.stderr or merged.stdout).strip().splitlines()
        return (f"merging {own.branch} back into {own.ticket_branch} failed in {own.ticket_path}: "
                f"{why[-1] if why else 'git merge failed'}")
    try:
        git.remove_worktree(own.repo_root, own.path)
        git.delete_branch(own.repo_root, own.branch, force=True)  # merged into the ticket branch just above
    except MetawsmError:
        pass  # the work is merged; a leftover worktree is adopted (fast-forwarded) by the next attempt
    return None
