"""git, through plain ``git`` commands run by proc (one process per query, no long-lived helpers, the
same error type everywhere). GitPython is not needed for these hot paths; every call strips the ``GIT_*``
variables that would point git at another repository (e.g. when metawsm runs inside a git hook).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metawsm.errors import ExternalError
from metawsm.runtime import proc

# GIT_* variables kept: identity, config injection, transport and tracing. Everything else (GIT_DIR,
# GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, GIT_COMMON_DIR, GIT_PREFIX, ...) is dropped.
_KEEP_GIT_VARS = frozenset({
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_COUNT",
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_ASKPASS",
    "GIT_TERMINAL_PROMPT", "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_ALLOW_PROTOCOL", "GIT_TRACE", "GIT_EDITOR",
})


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("GIT_") or k in _KEEP_GIT_VARS or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(extra or {})
    return env


def git(cwd: str | os.PathLike[str], *args: str, check: bool = True, env: Mapping[str, str] | None = None,
        timeout: float | None = 120, pass_fds: Sequence[int] = ()) -> proc.Completed:
    return proc.run(["git", *args], cwd=cwd, env=git_env(env), check=check, timeout=timeout, pass_fds=pass_fds)


def _out(cwd: str | os.PathLike[str], *args: str) -> str:
    return git(cwd, *args).stdout.strip()


def _z(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def toplevel(path: str | os.PathLike[str]) -> Path:
    return Path(_out(path, "rev-parse", "--show-toplevel"))


def common_dir(repo: str | os.PathLike[str]) -> Path:
    """The repository's shared .git folder (the same for every worktree)."""
    return Path(_out(repo, "rev-parse", "--path-format=absolute", "--git-common-dir"))


def branch_exists(repo: str | os.PathLike[str], branch: str) -> bool:
    return git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).code == 0


def ref_exists(repo: str | os.PathLike[str], ref: str) -> bool:
    return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).code == 0


@dataclass(frozen=True)
class Worktree:
    """One entry of `git worktree list`."""

    path: Path
    head: str | None
    branch: str | None  # short name; None when detached or bare
    bare: bool = False
    prunable: bool = False


def list_worktrees(repo: str | os.PathLike[str]) -> list[Worktree]:
    text = git(repo, "worktree", "list", "--porcelain", "-z").stdout
    result: list[Worktree] = []
    record: dict[str, str] = {}
    for item in [*text.split("\0"), ""]:
        if item:
            key, _, value = item.partition(" ")
            record[key] = value
            continue
        if "worktree" in record:
            branch = record.get("branch")
            result.append(Worktree(
                path=Path(record["worktree"]), head=record.get("HEAD"),
                branch=branch.removeprefix("refs/heads/") if branch else None,
                bare="bare" in record, prunable="prunable" in record,
            ))
        record = {}
    return result


def _find_worktree(repo: str | os.PathLike[str], path: Path) -> Worktree | None:
    for wt in list_worktrees(repo):
        if _same_path(wt.path, path):
            return wt
    return None


def _same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


@dataclass(frozen=True)
class WorktreeResult:
    """What `add_worktree` made or found."""

    path: Path
    branch: str
    created: bool  # a new worktree was added
    adopted: bool  # an existing worktree at path on branch was reused
    branch_created: bool = False


def add_worktree(repo_root: str | os.PathLike[str], path: str | os.PathLike[str], branch: str,
                 base_branch: str) -> WorktreeResult:
    """Ensure a worktree of ``repo_root`` at ``path`` on ``branch``; idempotent.

    An existing worktree at ``path`` on ``branch`` is adopted; an existing ``branch`` is checked out into a
    new worktree; otherwise the branch is created from ``base_branch``. A path holding anything else, or a
    branch checked out elsewhere, raises ExternalError."""
    target = Path(path).absolute()
    existing = _find_worktree(repo_root, target)
    if existing is not None and existing.prunable:
        git(repo_root, "worktree", "prune")
        existing = None
    if existing is not None:
        if existing.branch == branch:
            return WorktreeResult(target, branch, created=False, adopted=True)
        raise ExternalError(
            f"{target} is already a worktree on {existing.branch or 'a detached HEAD'}, not {branch}",
            hint="remove it (metawsm cleanup) or choose another workspace path",
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExternalError(f"cannot create worktree at {target}: the path exists and is not a worktree of "
                            f"{repo_root}", hint="move it away or remove it, then apply again")
    for wt in list_worktrees(repo_root):
        if wt.branch == branch:
            raise ExternalError(f"branch {branch} is already checked out at {wt.path}",
                                hint="remove that worktree or use another branch prefix")
    target.parent.mkdir(parents=True, exist_ok=True)
    if branch_exists(repo_root, branch):
        git(repo_root, "worktree", "add", "--quiet", str(target), branch)
        return WorktreeResult(target, branch, created=True, adopted=False)
    if not ref_exists(repo_root, base_branch):
        raise ExternalError(f"base branch {base_branch!r} does not exist in {repo_root}",
                            hint="set base_branch in the policy to an existing branch")
    git(repo_root, "worktree", "add", "--quiet", "-b", branch, str(target), base_branch)
    return WorktreeResult(target, branch, created=True, adopted=False, branch_created=True)


def remove_worktree(repo: str | os.PathLike[str], path: str | os.PathLike[str], *, force: bool = False) -> bool:
    """Remove a worktree; False when there was none. Without ``force`` git refuses a dirty worktree."""
    target = Path(path).absolute()
    existing = _find_worktree(repo, target)
    if existing is None:
        return False
    if existing.prunable:
        git(repo, "worktree", "prune")
        return True
    git(repo, "worktree", "remove", *(["--force"] if force else []), str(target))
    return True


def delete_branch(repo: str | os.PathLike[str], branch: str, *, force: bool = False) -> bool:
    """Delete a local branch; False when it did not exist. Without ``force`` git refuses unmerged work."""
    if not branch_exists(repo, branch):
        return False
    git(repo, "branch", "-D" if force else "-d", branch)
    return True


def is_dirty(path: str | os.PathLike[str]) -> list[str]:
    """Uncommitted and untracked paths (untracked folders listed file by file); empty when clean."""
    items = _z(git(path, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout)
    paths: list[str] = []
    skip = False
    for item in items:
        if skip:  # the origin path of a rename/copy entry
            skip = False
            continue
        status, name = item[:2], item[3:]
        paths.append(name)
        skip = "R" in status or "C" in status
    return sorted(set(paths))


def head_sha(path: str | os.PathLike[str]) -> str:
    return _out(path, "rev-parse", "HEAD")


def merge_base(repo: str | os.PathLike[str], a: str, b: str) -> str | None:
    result = git(repo, "merge-base", a, b, check=False)
    if result.code != 0:
        return None
    return result.stdout.strip() or None


def tree_hash(path: str | os.PathLike[str]) -> str:
    """A hash of the working tree's content (HEAD plus staged, unstaged and untracked non-ignored changes).

    The real index is copied to a temporary index file, ``git add -A`` stages everything into the copy,
    and ``git write-tree`` hashes it. The real index and HEAD are untouched; equal content gives an equal
    hash, and with no changes it equals ``HEAD^{tree}``. (Blobs for changed files are written to the object
    store, as ``git add`` would; ``git gc`` prunes them.)"""
    index = Path(_out(path, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    with tempfile.TemporaryDirectory(prefix="metawsm-index-") as tmp:
        temp_index = Path(tmp) / "index"
        if index.exists():
            shutil.copyfile(index, temp_index)
        env = {"GIT_INDEX_FILE": str(temp_index)}
        git(path, "add", "-A", env=env)
        return git(path, "write-tree", env=env).stdout.strip()


def changed_files(path: str | os.PathLike[str], base_ref: str, *, clean: bool = False) -> list[str]:
    """Files that differ from the merge-base of HEAD and ``base_ref``: committed on the branch, uncommitted,
    and untracked (not ignored).

    ``clean``: the caller has just seen ``is_dirty`` find nothing, so the working tree is HEAD and nothing is
    untracked; then the commits' tree-to-tree diff (``BASE...HEAD``) gives the same names in one process,
    without the two walks of the working tree (its stat walk and its untracked files) that cost a
    ``git status`` each in a large repository."""
    if clean:
        tree = git(path, "diff", "--name-only", "-z", "--no-renames", f"{base_ref}...HEAD", check=False)
        if tree.code == 0:
            return sorted(set(_z(tree.stdout)))
    quick = git(path, "diff", "--name-only", "-z", "--no-renames", "--merge-base", base_ref, check=False)
    if quick.code == 0:  # one process: the working tree against merge-base(HEAD, base_ref)
        names = set(_z(quick.stdout))
    else:  # no (or more than one) merge base: say which, or diff against the one git picks
        base = merge_base(path, "HEAD", base_ref)
        if base is None:
            raise ExternalError(f"no common history between HEAD and {base_ref} in {path}")
        names = set(_z(git(path, "diff", "--name-only", "-z", "--no-renames", base).stdout))
    names.update(_z(git(path, "ls-files", "--others", "--exclude-standard", "-z").stdout))
    return sorted(names)


def unmerged_commits(repo: str | os.PathLike[str], branch: str, base: str) -> list[str]:
    """Commits reachable from ``branch`` but not from ``base`` (newest first), i.e. work a merge would add."""
    return git(repo, "rev-list", branch, f"^{base}", "--").stdout.split()


def last_commit_time(path: str | os.PathLike[str]) -> float | None:
    result = git(path, "log", "-1", "--format=%ct", check=False)
    text = result.stdout.strip()
    return float(text) if result.code == 0 and text else None


@dataclass(frozen=True)
class SetupResult:
    """What a workspace setup copied, linked and ran."""

    copied: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _inside(root: Path, rel: str) -> Path:
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ExternalError(f"workspace setup path {rel!r} must be relative and stay inside the repository")
    return root / rel


def setup_workspace(repo_root: str | os.PathLike[str], path: str | os.PathLike[str], copy: Sequence[str] = (),
                    symlink: Sequence[str] = (), commands: Sequence[str] = (), *,
                    env: Mapping[str, str] | None = None, timeout: float | None = 600) -> SetupResult:
    """Prepare a new worktree: copy files from ``repo_root`` (missing sources are skipped with a note),
    symlink paths to ``repo_root`` (an existing non-link destination is kept, with a note), then run
    ``commands`` with /bin/sh in the worktree (a failing command raises CommandFailed). Idempotent."""
    src_root, dst_root = Path(repo_root).absolute(), Path(path).absolute()
    result = SetupResult()
    for rel in copy:
        src, dst = _inside(src_root, rel), _inside(dst_root, rel)
        if not src.exists():
            result.notes.append(f"copy: {rel} does not exist in {src_root}; skipped")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        result.copied.append(rel)
    for rel in symlink:
        src, dst = _inside(src_root, rel), _inside(dst_root, rel)
        if not src.exists():
            result.notes.append(f"symlink: {rel} does not exist in {src_root}; skipped")
            continue
        if dst.is_symlink():
            if os.path.realpath(dst) == os.path.realpath(src):
                result.linked.append(rel)
                continue
            dst.unlink()
        elif dst.exists():
            result.notes.append(f"symlink: {rel} already exists in the worktree; kept")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src, target_is_directory=src.is_dir())
        result.linked.append(rel)
    run_env = {**os.environ, **(env or {})}
    for command in commands:
        proc.run_shell(command, cwd=dst_root, env=run_env, timeout=timeout)
        result.commands.append(command)
    return result
