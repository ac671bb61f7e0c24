"""The git facts the close gate judges, gathered with as few git processes as a large repository allows.

At 10,000 files a `git status` (a stat of every tracked file and a walk for untracked ones) costs as much as
the rest of a pre-push hook together; a tree-to-tree diff between two commits costs a few milliseconds. So:

* one `git status --porcelain=v2 --branch` per worktree gives both its dirty paths and its HEAD;
* one `git diff --name-status BASE...REV` per judged commit gives the branch's changes, from which the
  forbidden-file check (all changes; added/copied/modified/renamed/type-changed ones at a pushed commit)
  and the policy-change check (policy, plan and ticket files) both read — where each once ran its own;
* a dirty worktree (the gate refuses it anyway) is listed as `runtime.git.changed_files` lists it, and any
  git failure is left to `runtime.git`, so that its message is the one users always saw.

Processes run through the caller's `runner(cwd, args) -> (exit code, stdout, stderr)`: the hook spawns git itself
(`hookrun`), the other commands use `runtime.git` (one wrapper, with a timeout). Import-light.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's path
if TYPE_CHECKING:
    from collections.abc import Callable

    Runner = Callable[[str, tuple[str, ...]], tuple[int, str, str]]

POLICY_FILE = ".metawsm/policy.yaml"
JUDGING_DIRS = ("plans/", "tickets/")
PUSHED_STATUSES = frozenset("ACMRT")  # --diff-filter=ACMRT: what a pushed commit carries


class GitFailed(Exception):
    """A git command exited non-zero (the caller asks runtime.git again for the message users know)."""


class Worktrees:
    """Git facts of one ticket's worktrees, each read once; `forget()` after anything that may change them
    (a `{name, run}` check command)."""

    def __init__(self, runner: Runner) -> None:
        self.run = runner
        self.heads: dict[str, str | None] = {}  # worktree path -> HEAD sha (None: no commit yet)
        self.dirty: dict[str, list[str]] = {}  # worktree path -> uncommitted and untracked paths
        self._diffs: dict[tuple[str, str, str], list[tuple[str, str]] | None] = {}

    def forget(self) -> None:
        self.dirty.clear()
        self.heads.clear()

    def status(self, path: str) -> list[str]:
        """Uncommitted and untracked paths of the worktree at `path` (as `runtime.git.is_dirty`: untracked
        folders listed file by file, sorted, no duplicates); also records its HEAD. GitFailed on failure."""
        code, out, _ = self.run(path, ("status", "--porcelain=v2", "-z", "--branch", "--no-ahead-behind",
                                    "--untracked-files=all"))
        if code != 0:
            raise GitFailed(path)
        paths: set[str] = set()
        items = out.split("\0")
        skip = False
        for item in items:
            if skip:  # the origin path of a rename/copy entry
                skip = False
                continue
            if item.startswith("# branch.oid "):
                oid = item[len("# branch.oid "):]
                self.heads[path] = None if oid == "(initial)" else oid
            elif item.startswith("1 "):
                paths.add(item.split(" ", 8)[8])
            elif item.startswith("2 "):
                paths.add(item.split(" ", 9)[9])
                skip = True
            elif item.startswith("u "):
                paths.add(item.split(" ", 10)[10])
            elif item.startswith("? "):
                paths.add(item[2:])
        self.dirty[path] = sorted(paths)
        return self.dirty[path]

    def head(self, path: str) -> str | None:
        """The worktree's HEAD (from its status when it was read; else one `git rev-parse`)."""
        if path not in self.heads:
            code, out, _ = self.run(path, ("rev-parse", "--verify", "-q", "HEAD"))
            self.heads[path] = out.strip() if code == 0 and out.strip() else None
        return self.heads[path]

    def diff(self, path: str, base: str, rev: str) -> list[tuple[str, str]] | None:
        """(status letter, path) of every file `rev` changes since it left `base` (`git diff BASE...REV`);
        None when git cannot tell (no common history, an unknown revision)."""
        key = (path, base, rev)
        if key not in self._diffs:
            code, out, _ = self.run(path, ("diff", "--name-status", "-z", "--no-renames", f"{base}...{rev}"))
            items = out.split("\0")
            self._diffs[key] = [(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)] if code == 0 else None
        return self._diffs[key]

    def changed(self, path: str, base: str) -> list[str]:
        """Files that differ from the merge base of HEAD and `base`, as `runtime.git.changed_files` lists them:
        for a worktree whose status was just read clean, the commits' diff alone."""
        head = self.heads.get(path)
        if self.dirty.get(path) == [] and head:
            found = self.diff(path, base, head)
            if found is not None:
                return sorted({p for _, p in found})
        from metawsm.runtime import git  # a dirty worktree, or git failed: its own listing and messages

        return git.changed_files(path, base, clean=self.dirty.get(path) == [])

    def judging_changes(self, path: str, base: str, rev: str) -> list[str]:
        """Policy, plan and ticket files (YAML) that `rev` changes since it left `base` (none when git cannot
        tell: no common history)."""
        found = self.diff(path, base, rev) or []
        return sorted(p for _, p in found if p == POLICY_FILE or (p.startswith(JUDGING_DIRS)
                                                                   and p.endswith((".yaml", ".yml"))))

    def pushed_files(self, path: str, base: str, rev: str) -> list[str] | None:
        """Files a pushed commit adds or changes since it left `base` (None when git cannot tell)."""
        found = self.diff(path, base, rev)
        return None if found is None else [p for s, p in found if s in PUSHED_STATUSES]
