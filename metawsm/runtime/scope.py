"""The short id that scopes a repository's sessions: a hash of its common git directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def common_git_dir(root: Path) -> Path:
    """The repository's common git directory (shared by all its worktrees), without running git: ``.git``
    itself, or for a linked worktree the folder its ``.git`` file and ``commondir`` point at. A folder that
    is no git repository stands for itself."""
    dotgit = root / ".git"
    if dotgit.is_dir():
        return dotgit.resolve()
    try:
        content = dotgit.read_text(encoding="utf-8").strip()
    except OSError:
        return root.resolve()
    if not content.startswith("gitdir:"):
        return root.resolve()
    gitdir = Path(content[len("gitdir:"):].strip())
    if not gitdir.is_absolute():
        gitdir = root / gitdir
    try:
        return (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        return gitdir.resolve()


def repo_id(root: str | os.PathLike[str]) -> str:
    """8 hex characters naming the repository at ``root`` (the same from any of its worktrees)."""
    path = os.fsencode(common_git_dir(Path(root)))
    return hashlib.sha256(path).hexdigest()[:8]
