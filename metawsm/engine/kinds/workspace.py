"""`workspace:T`: a git worktree per repo of the ticket on its branch, then the policy's setup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef
from metawsm.errors import MetawsmError
from metawsm.plan.steps import WorkspaceStep
from metawsm.runtime import git

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


class WorkspaceKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        step = ref.typed(WorkspaceStep)
        notes: list[str] = []
        try:
            for name, repo in sorted(step.repos.items()):
                result = git.add_worktree(repo.repo_root, repo.path, step.branch, repo.base_branch)
                verb = "adopted" if result.adopted else "created"
                notes.append(f"{name}: {verb} {repo.path} on {step.branch}")
                if result.created and step.has_setup:
                    done = git.setup_workspace(repo.repo_root, repo.path, step.copy, step.symlink,
                                               step.setup_commands)
                    notes += done.notes
        except MetawsmError as exc:
            return Outcome.failed(f"workspace for {ref.ticket}: {exc.message}")
        Path(step.path).mkdir(parents=True, exist_ok=True)
        return Outcome.done("; ".join(notes))
