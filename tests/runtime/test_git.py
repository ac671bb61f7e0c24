"""git adapter against real temporary repositories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime import git as g
from metawsm.runtime.proc import CommandFailed
from tests.conftest import git


def _commit(path: Path, name: str, text: str, message: str = "change") -> str:
    (path / name).parent.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(text, encoding="utf-8")
    git(path, "add", name)
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


def test_common_dir_and_branches(repo: Path, tmp_path: Path) -> None:
    assert g.common_dir(repo) == (repo / ".git").resolve()
    assert g.branch_exists(repo, "main") and not g.branch_exists(repo, "feature")
    result = g.add_worktree(repo, tmp_path / "wt" / "T1", "mw/T1", "main")
    assert g.common_dir(result.path) == (repo / ".git").resolve()
    assert g.branch_exists(repo, "mw/T1")


def test_add_adopt_remove_worktree(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "wt" / "T1"
    first = g.add_worktree(repo, path, "mw/T1", "main")
    assert (first.created, first.adopted, first.branch_created) == (True, False, True)
    assert (path / "README.md").exists()
    again = g.add_worktree(repo, path, "mw/T1", "main")
    assert (again.created, again.adopted) == (False, True)
    listed = {wt.path.resolve(): wt.branch for wt in g.list_worktrees(repo)}
    assert listed[path.resolve()] == "mw/T1" and listed[repo.resolve()] == "main"
    # the same path on another branch is refused
    with pytest.raises(ExternalError, match="already a worktree on mw/T1"):
        g.add_worktree(repo, path, "mw/other", "main")
    # the branch is checked out here, so another path for it is refused
    with pytest.raises(ExternalError, match="already checked out"):
        g.add_worktree(repo, tmp_path / "wt" / "T1b", "mw/T1", "main")
    (path / "new.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CommandFailed):
        g.remove_worktree(repo, path)
    assert g.remove_worktree(repo, path, force=True) is True
    assert not path.exists()
    assert g.remove_worktree(repo, path) is False
    # the branch survives: a new worktree checks it out instead of creating it
    readopt = g.add_worktree(repo, path, "mw/T1", "main")
    assert (readopt.created, readopt.adopted, readopt.branch_created) == (True, False, False)


def test_worktree_whose_folder_vanished_is_recreated(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "wt" / "T1"
    g.add_worktree(repo, path, "mw/T1", "main")
    import shutil

    shutil.rmtree(path)
    result = g.add_worktree(repo, path, "mw/T1", "main")
    assert result.created and (path / "README.md").exists()


def test_occupied_path_and_missing_base(repo: Path, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "file").write_text("mine", encoding="utf-8")
    with pytest.raises(ExternalError, match="exists and is not a worktree"):
        g.add_worktree(repo, occupied, "mw/T2", "main")
    assert (occupied / "file").read_text(encoding="utf-8") == "mine"
    with pytest.raises(ExternalError, match="base branch 'nope' does not exist"):
        g.add_worktree(repo, tmp_path / "wt" / "T3", "mw/T3", "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert g.add_worktree(repo, empty, "mw/T4", "main").created


def test_delete_branch(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "wt" / "T1"
    g.add_worktree(repo, path, "mw/T1", "main")
    _commit(path, "a.txt", "a")
    g.remove_worktree(repo, path)
    with pytest.raises(CommandFailed, match="not fully merged"):
        g.delete_branch(repo, "mw/T1")
    assert g.delete_branch(repo, "mw/T1", force=True) is True
    assert g.delete_branch(repo, "mw/T1") is False


def test_is_dirty_lists_untracked_staged_renamed(repo: Path) -> None:
    assert g.is_dirty(repo) == []
    (repo / "dir").mkdir()
    (repo / "dir" / "new file.txt").write_text("x", encoding="utf-8")
    (repo / "README.md").write_text("changed\n", encoding="utf-8")
    assert g.is_dirty(repo) == ["README.md", "dir/new file.txt"]
    _commit(repo, "old.txt", "o")
    git(repo, "mv", "old.txt", "renamed.txt")
    assert g.is_dirty(repo) == ["README.md", "dir/new file.txt", "renamed.txt"]
    (repo / ".gitignore").write_text("ignored.txt\n", encoding="utf-8")
    (repo / "ignored.txt").write_text("i", encoding="utf-8")
    assert "ignored.txt" not in g.is_dirty(repo)


def test_tree_hash_tracks_content(repo: Path) -> None:
    clean = g.tree_hash(repo)
    assert clean == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert g.tree_hash(repo) == clean  # stable
    index_before = (repo / ".git" / "index").read_bytes()
    (repo / "new.txt").write_text("one", encoding="utf-8")
    untracked = g.tree_hash(repo)
    assert untracked != clean
    assert (repo / ".git" / "index").read_bytes() == index_before  # the real index is untouched
    assert g.is_dirty(repo) == ["new.txt"]
    (repo / "new.txt").write_text("two", encoding="utf-8")
    edited = g.tree_hash(repo)
    assert edited not in (clean, untracked)
    (repo / "new.txt").write_text("one", encoding="utf-8")
    assert g.tree_hash(repo) == untracked
    git(repo, "add", "new.txt")
    git(repo, "commit", "-q", "-m", "add")
    assert g.tree_hash(repo) == untracked  # same content, committed
    (repo / "new.txt").unlink()
    assert g.tree_hash(repo) == clean


def test_changed_files_unmerged_commits_times(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "wt" / "T1"
    g.add_worktree(repo, path, "mw/T1", "main")
    assert g.changed_files(path, "main") == []
    assert g.tree_hash(path) == git(path, "rev-parse", "HEAD^{tree}").strip()  # linked worktree index
    assert g.unmerged_commits(repo, "mw/T1", "main") == []
    first = _commit(path, "src/a.py", "a")
    second = _commit(path, "src/b.py", "b")
    _commit(repo, "main-only.txt", "m")  # main moves on; not a change of the branch
    (path / "README.md").write_text("edited\n", encoding="utf-8")
    (path / "untracked.txt").write_text("u", encoding="utf-8")
    assert g.changed_files(path, "main") == ["README.md", "src/a.py", "src/b.py", "untracked.txt"]
    assert g.unmerged_commits(repo, "mw/T1", "main") == [second, first]
    assert g.head_sha(path) == second
    assert g.merge_base(repo, "mw/T1", "main") == git(repo, "rev-parse", "main~1").strip()
    assert g.merge_base(repo, "mw/T1", "nope") is None
    stamp = g.last_commit_time(path)
    assert stamp is not None and abs(stamp - float(git(path, "log", "-1", "--format=%ct"))) < 1
    git(repo, "merge", "-q", "--no-edit", "mw/T1")
    assert g.unmerged_commits(repo, "mw/T1", "main") == []


def test_changed_files_of_a_clean_worktree_from_the_commits_alone(repo: Path, tmp_path: Path) -> None:
    # issue 20: the gate lists a clean worktree's changes with one tree-to-tree diff (no working-tree walk);
    # it must name exactly what the full listing names, deletions and a main that moved on included
    path = tmp_path / "wt" / "T1"
    g.add_worktree(repo, path, "mw/T1", "main")
    assert g.changed_files(path, "main", clean=True) == g.changed_files(path, "main") == []
    _commit(path, "src/a.py", "a")
    _commit(repo, "main-only.txt", "m")
    git(path, "rm", "-q", "README.md")
    git(path, "commit", "-q", "-m", "drop the readme")
    assert g.is_dirty(path) == []
    assert g.changed_files(path, "main", clean=True) == g.changed_files(path, "main") == ["README.md", "src/a.py"]
    # a worktree that is not clean is listed in full; `clean` is the caller's promise, so only pass it after
    # is_dirty found nothing (the gate does): here the promise is broken on purpose, and the commits show
    (path / "untracked.txt").write_text("u", encoding="utf-8")
    assert g.changed_files(path, "main") == ["README.md", "src/a.py", "untracked.txt"]
    assert g.changed_files(path, "main", clean=True) == ["README.md", "src/a.py"]


def test_git_env_is_stripped(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert g.head_sha(repo) == git(repo, "--git-dir", str(repo / ".git"), "rev-parse", "HEAD").strip()
    env = g.git_env()
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env
    assert env["GIT_AUTHOR_NAME"] == os.environ["GIT_AUTHOR_NAME"]


def test_setup_workspace(repo: Path, tmp_path: Path) -> None:
    (repo / ".env").write_text("SECRET=1\n", encoding="utf-8")
    (repo / "cache").mkdir()
    (repo / "cache" / "blob").write_text("b", encoding="utf-8")
    (repo / "config").mkdir()
    (repo / "config" / "local.toml").write_text("x = 1\n", encoding="utf-8")
    path = tmp_path / "wt" / "T1"
    g.add_worktree(repo, path, "mw/T1", "main")
    result = g.setup_workspace(
        repo, path, copy=[".env", "config", "missing.txt"], symlink=["cache", "README.md", "nolink"],
        commands=["echo ran > setup.out", "test -f .env"], env={"EXTRA": "1"},
    )
    assert result.copied == [".env", "config"]
    assert result.linked == ["cache"]
    assert any("missing.txt" in n for n in result.notes)
    assert any("README.md" in n and "kept" in n for n in result.notes)
    assert any("nolink" in n for n in result.notes)
    assert (path / ".env").read_text(encoding="utf-8") == "SECRET=1\n"
    assert (path / "config" / "local.toml").exists()
    assert (path / "cache").is_symlink() and (path / "cache" / "blob").read_text(encoding="utf-8") == "b"
    assert (path / "setup.out").read_text(encoding="utf-8").strip() == "ran"
    again = g.setup_workspace(repo, path, copy=[".env"], symlink=["cache"])  # idempotent
    assert again.linked == ["cache"] and again.copied == [".env"]
    with pytest.raises(CommandFailed, match="exit code 3"):
        g.setup_workspace(repo, path, commands=["echo boom >&2; exit 3"])
    with pytest.raises(ExternalError, match="inside the repository"):
        g.setup_workspace(repo, path, copy=["../outside"])
