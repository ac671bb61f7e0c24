"""The batched git reads close relies on (engine/closegit.py), on a real repository: both tips in one
`for-each-ref` (exact names, missing ones left out), the commits a branch has over its base at
those tips, and worktree removal that falls back to git's own bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawsm.engine import closegit
from metawsm.errors import MetawsmError
from tests.conftest import git


def _commit(root: Path, name: str) -> str:
    (root / name).write_text(name, encoding="utf-8")
    git(root, "add", name)
    git(root, "commit", "-q", "-m", name)
    return git(root, "rev-parse", "HEAD").strip()


def test_tips_reads_only_the_named_branches_that_exist(repo: Path) -> None:
    main = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "metawsm/T-1")
    ticket = _commit(repo, "a.txt")
    git(repo, "branch", "metawsm/T-10")  # a longer name sharing the prefix is not T-1
    assert closegit.tips(str(repo), "metawsm/T-1", "main") == {"metawsm/T-1": ticket, "main": main}
    assert closegit.tips(str(repo), "metawsm/T-1", "gone") == {"metawsm/T-1": ticket}
    assert closegit.tips(str(repo), "metawsm") == {}  # a folder of branches is no branch


def test_ahead_lists_the_commits_a_merge_would_add_at_the_tips_read(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "metawsm/T-1")
    first, second = _commit(repo, "a.txt"), _commit(repo, "b.txt")
    heads = closegit.tips(str(repo), "metawsm/T-1", "main")
    assert closegit.ahead(str(repo), heads, "metawsm/T-1", "main") == [second, first]
    assert closegit.ahead(str(repo), heads, "main", "metawsm/T-1") == []
    assert closegit.ahead(str(repo), {"main": heads["main"]}, "metawsm/T-1", "main") == []  # prepare names it
    with pytest.raises(closegit.CloseError, match="branch metawsm/T-2 does not exist"):
        closegit.prepare("self", str(repo), "metawsm/T-2", "main", "merge", "m", None)


def test_remove_worktree_removes_a_clean_one_refuses_a_dirty_one_and_skips_a_missing_one(repo: Path) -> None:
    clean, dirty = repo.parent / "wt-clean", repo.parent / "wt-dirty"
    git(repo, "worktree", "add", "-q", "-b", "a", str(clean))
    git(repo, "worktree", "add", "-q", "-b", "b", str(dirty))
    (dirty / "new.txt").write_text("work", encoding="utf-8")
    assert closegit.remove_worktree(str(repo), str(clean)) and not clean.exists()
    with pytest.raises(MetawsmError):
        closegit.remove_worktree(str(repo), str(dirty))
    assert (dirty / "new.txt").read_text(encoding="utf-8") == "work"
    assert closegit.remove_worktree(str(repo), str(repo.parent / "never-was")) is False
