"""`workspace:T`: a git worktree per repo of the ticket on its branch, then the policy's setup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef
from metawsm.errors import MetawsmError
from metawsm.runtime import git

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


class WorkspaceKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        fields = ref.fields
        setup = fields.get("setup", {})
        notes: list[str] = []
        try:
            for name, repo in sorted(fields["repos"].items()):
                result = git.add_worktree(repo["repo_root"], repo["path"], fields["branch"], repo["base_branch"])
                verb = "adopted" if result.adopted else "created"
                notes.append(f"{name}: {verb} {repo['path']} on {fields['branch']}")
                if result.created and (setup.get("copy") or setup.get("symlink") or setup.get("commands")):
                    done = git.setup_workspace(repo["repo_root"], repo["path"], setup.get("copy", ()),
                                               setup.get("symlink", ()), setup.get("commands", ()))
                    notes += done.notes
        except MetawsmError as exc:
            return Outcome.failed(f"workspace for {ref.ticket}: {exc.message}")
        Path(fields["path"]).mkdir(parents=True, exist_ok=True)
        return Outcome.done("; ".join(notes))
