"""The git side of `metawsm close`, built so that a crash at any instant is recoverable.

`prepare` builds the commit the base branch will move to — the merge (or squash, or fast-forward) WITH the
changelog line in it — from git objects only: `merge-tree --write-tree` merges without a worktree, the changelog
blob is written into a temporary index (never through the file system, so a symlinked changelog on the ticket
branch cannot make close write outside the repository), and `commit-tree` makes the commit. Nothing a person
sees has changed yet. `advance` then moves the base branch in ONE step: `update-ref` with the expected old value
when the branch is checked out nowhere, else a fast-forward of the clean checkout (which git refuses if it would
overwrite a local file; ignored files are checked first, since git overwrites those silently). Whether a close
happened is a question git answers: is `merge_sha` contained in the base branch (`contained`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import MetawsmError
from metawsm.runtime import git, proc

CHANGELOG = "tickets/{ticket}.changelog.md"
INDEX_LOCK_WAIT = 10.0
REPO_LOCK_WAIT = 120.0


class CloseError(MetawsmError):
    """A close that cannot go ahead; nothing was changed."""

    code = "close_failed"


@dataclass(frozen=True)
class Prepared:
    repo: str
    repo_root: str
    checkout: str | None
    strategy: str
    branch: str
    base_branch: str
    ticket_sha: str
    base_sha: str
    merge_sha: str


def tips(root: str, *branches: str) -> dict[str, str]:
    """{branch: commit} of those local ``branches`` that exist, read in ONE `git for-each-ref` (a pattern also
    matches refs below it, and globs: only exact names are kept)."""
    want = {f"refs/heads/{b}": b for b in branches}
    out = git.git(root, "for-each-ref", "--format=%(objecttype) %(objectname) %(refname)", *want).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        kind, sha, ref = [*line.split(" ", 2), "", ""][:3]
        if kind == "commit" and ref in want:
            found[want[ref]] = sha
    return found


def rev(root: str, ref: str) -> str | None:
    result = git.git(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() or None if result.code == 0 else None


def is_ancestor(root: str, a: str, b: str) -> bool:
    return git.git(root, "merge-base", "--is-ancestor", a, b, check=False).code == 0


def checkout_of(root: str, base: str) -> tuple[Path | None, bool]:
    """Where `base` is checked out (None: nowhere), and whether that tree is clean."""
    for wt in git.list_worktrees(root):
        if wt.branch in (base, f"refs/heads/{base}"):
            return Path(wt.path), not git.is_dirty(wt.path)
    return None, True


def _merged_tree(root: str, base_sha: str, ticket_sha: str, branch: str, strategy: str) -> str:
    result = git.git(root, "merge-tree", "--write-tree", "--name-only", "--no-messages", base_sha, ticket_sha,
                     check=False)
    lines = result.stdout.splitlines()
    if result.code == 1:
        names = sorted(set(lines[1:])) or ["(unknown files)"]
        raise CloseError(f"cannot merge {branch} ({strategy}): merge conflict in {', '.join(names)}; "
                         "nothing was changed",
                         hint="merge the base branch into the ticket branch, re-run its checks (`metawsm apply`), "
                              "then close again")
    if result.code != 0 or not lines:
        raise CloseError(f"cannot merge {branch} ({strategy}): {result.stderr.strip() or 'git merge-tree failed'}")
    return lines[0].strip()


def with_changelog(root: str, tree: str, ticket: str, line: str) -> str:
    """`tree` with `line` appended to tickets/<T>.changelog.md — a regular file, whatever the tree held there."""
    path = CHANGELOG.format(ticket=ticket)
    entry = git.git(root, "ls-tree", "-z", tree, "--", path).stdout.strip("\0")
    existing = ""
    if entry.startswith(("100644 blob ", "100755 blob ")):
        existing = git.git(root, "cat-file", "blob", entry.split()[2]).stdout
    text = (existing or f"# {ticket} changelog\n\n")
    text += ("" if text.endswith("\n") else "\n") + line + "\n"
    blob = proc.run(["git", "hash-object", "-w", "--stdin"], cwd=root, env=git.git_env(), input=text,
                    timeout=60).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="metawsm-close-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git.git(root, "read-tree", tree, env=env)
        git.git(root, "update-index", "--add", "--replace", "--cacheinfo", f"100644,{blob},{path}", env=env)
        return git.git(root, "write-tree", env=env).stdout.strip()


def ahead(root: str, heads: dict[str, str], branch: str, base: str) -> list[str]:
    """Commits of ``branch`` not in ``base`` (newest first) at the tips ``heads`` read (none when either is
    missing: `prepare` names that)."""
    if branch not in heads or base not in heads:
        return []
    return git.git(root, "rev-list", heads[branch], f"^{heads[base]}", "--").stdout.split()


def prepare(repo: str, root: str, branch: str, base: str, strategy: str, message: str,
            changelog: tuple[str, str] | None, *, heads: dict[str, str] | None = None,
            commits: list[str] | None = None) -> Prepared:
    """Check one repository and build its close commit. Raises CloseError naming the problem; the base branch,
    the checkout and the ticket branch are untouched either way. `changelog`: (ticket, line) for the primary repo.
    `heads` (`tips` of branch and base) and `commits` (`ahead` at those tips), when the caller read them."""
    heads = tips(root, branch, base) if heads is None else heads
    ticket_sha, base_sha = heads.get(branch), heads.get(base)
    if ticket_sha is None:
        raise CloseError(f"repo {repo}: branch {branch} does not exist in {root}")
    if base_sha is None:
        raise CloseError(f"repo {repo}: base branch {base} does not exist in {root}")
    where, clean = checkout_of(root, base)
    if where is not None and not clean:
        raise CloseError(f"{base} is checked out in {where} with uncommitted changes; close merges there",
                         hint="commit or stash them, then close again")
    contained_already = not commits if commits is not None else is_ancestor(root, ticket_sha, base_sha)
    if contained_already:  # nothing left to merge: only the changelog moves the base
        tree, parents = git.git(root, "rev-parse", f"{base_sha}^{{tree}}").stdout.strip(), [base_sha]
    elif strategy == "ff-only":
        if not is_ancestor(root, base_sha, ticket_sha):
            raise CloseError(f"cannot fast-forward {base} to {branch}: {base} has commits the branch lacks; "
                             "nothing was changed",
                             hint="merge or rebase the ticket branch onto the base, re-run its checks "
                                  "(`metawsm apply`), then close again")
        tree, parents = git.git(root, "rev-parse", f"{ticket_sha}^{{tree}}").stdout.strip(), [ticket_sha]
    else:
        tree = _merged_tree(root, base_sha, ticket_sha, branch, strategy)
        parents = [base_sha, ticket_sha] if strategy == "merge" else [base_sha]
    if changelog is not None:
        tree = with_changelog(root, tree, *changelog)
    if changelog is None and parents == [base_sha]:  # a repo the ticket did not change: nothing to do
        merge_sha = base_sha
    elif strategy == "ff-only" and changelog is None and parents == [ticket_sha]:
        merge_sha = ticket_sha
    else:
        args = ["commit-tree", tree, *(a for p in parents for a in ("-p", p)), "-m", message]
        merge_sha = git.git(root, *args).stdout.strip()
    if where is not None:
        _refuse_overwrite(where, base_sha, merge_sha)
    return Prepared(repo, root, str(where) if where else None, strategy, branch, base, ticket_sha, base_sha,
                    merge_sha)


def _refuse_overwrite(where: Path, old: str, new: str) -> None:
    """git overwrites ignored files when a merge adds the same path; close refuses instead."""
    added = [p for p in git.git(where, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=A", old, new)
             .stdout.split("\0") if p]
    present = [p for p in added if os.path.lexists(where / p)]
    if present:
        shown = ", ".join(present[:10]) + (f" and {len(present) - 10} more" if len(present) > 10 else "")
        raise CloseError(f"close would overwrite local file(s) in {where}: {shown}; nothing was changed",
                         hint="move them away (they are ignored by git, so git would replace them), then close again")


def wait_index_lock(where: str | None, root: str) -> None:
    """A git killed with its parent may still be finishing: wait (bounded) for its index.lock to go."""
    target = where or root
    lock = Path(git.git(target, "rev-parse", "--path-format=absolute", "--git-path", "index.lock").stdout.strip())
    deadline = time.monotonic() + INDEX_LOCK_WAIT
    while lock.exists():
        if time.monotonic() > deadline:
            raise CloseError(f"{lock} exists: another git command is running in {target}",
                             hint="wait for it; if no git process is running, remove that file")
        time.sleep(0.05)


def contained(intent_root: str, base: str, merge_sha: str) -> bool:
    """Whether the recorded close commit is in the base branch (the merge happened)."""
    head = rev(intent_root, f"refs/heads/{base}")
    return head is not None and (head == merge_sha or is_ancestor(intent_root, merge_sha, head))


def advance(p: Prepared, locks: Sequence[int] = ()) -> None:
    """Move the base branch to the close commit in one step (see the module docstring). ``locks``: the
    repo_locks descriptors, inherited by the git process: a close killed while git moves the branch leaves git
    running on, and the next close must not look at the branch (finish or roll back) before git has ended."""
    if p.checkout is None:
        git.git(p.repo_root, "update-ref", "-m", f"metawsm close: {p.branch}", f"refs/heads/{p.base_branch}",
                p.merge_sha, p.base_sha, pass_fds=locks)
        return
    # (no automatic `git maintenance run --auto` after this one fast-forward: the user's next commit runs it)
    git.git(p.checkout, "-c", "maintenance.auto=false", "merge", "--ff-only", "-q", p.merge_sha, pass_fds=locks)


def remove_worktree(root: str, path: str) -> bool:
    """`git worktree remove` (git refuses a dirty worktree); False when there was none. One git process in the
    usual case; a missing or unusual worktree goes through `git.remove_worktree`'s bookkeeping."""
    if Path(path).is_dir() and git.git(root, "worktree", "remove", path, check=False).code == 0:
        return True
    return git.remove_worktree(root, path)


@contextmanager
def repo_locks(locks_dir: Path, roots: list[str]) -> Iterator[list[int]]:
    """One close at a time per repository: an exclusive flock per repo root (taken in sorted order), waited for
    up to REPO_LOCK_WAIT seconds; the holder's pid is written in the lock file for the error message. Yields the
    descriptors: a flock is held until every process sharing the descriptor has closed it, so a git process
    given them (``advance``) holds the lock even when this close is killed under it."""
    import fcntl

    locks_dir.mkdir(parents=True, exist_ok=True)
    held: list[int] = []
    try:
        for root in sorted({str(Path(r).resolve()) for r in roots}):
            path = locks_dir / f"close-{hashlib.sha256(root.encode()).hexdigest()[:16]}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            held.append(fd)
            deadline = time.monotonic() + REPO_LOCK_WAIT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        holder = path.read_text(encoding="utf-8", errors="replace").strip() or "?"
                        raise CloseError(f"another close is merging into {root} (pid {holder}); gave up waiting",
                                         hint="wait for it to finish, then close again") from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        yield held
    finally:
        for fd in reversed(held):
            os.close(fd)
