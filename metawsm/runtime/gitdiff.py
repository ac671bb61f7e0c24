"""What a branch changes against its base: files (status, additions, deletions, patch) and commits.

Per repository: one ``git merge-base``, one ``git diff --raw --numstat -z`` (statuses and counts together),
one ``git diff`` (the patch, split per file in the same order) and one ``git log`` — never a process per file.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from metawsm.errors import ExternalError
from metawsm.runtime.git import git

# The same options for the numstat and the patch call, so both list the files in the same order.
_DIFF_OPTS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M")
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type-changed"}


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # added | modified | deleted | renamed | copied | type-changed | unmerged
    additions: int | None  # None for a binary file
    deletions: int | None
    old_path: str | None = None  # renames and copies
    patch: str = ""

    @property
    def binary(self) -> bool:
        return self.additions is None

    def to_json(self, *, patch: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "status": self.status, "additions": self.additions,
                                "deletions": self.deletions, "binary": self.binary}
        if self.old_path is not None:
            data["old_path"] = self.old_path
        if patch:
            data["patch"] = self.patch
        return data


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    def to_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "subject": self.subject}


@dataclass(frozen=True)
class BranchDiff:
    base: str  # the merge-base sha
    head: str  # the branch's sha
    files: tuple[FileChange, ...]
    commits: tuple[Commit, ...]  # newest first

    @property
    def additions(self) -> int:
        return sum(f.additions or 0 for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions or 0 for f in self.files)


def _parse_raw_numstat(text: str) -> list[tuple[str, str | None, str, int | None, int | None]]:
    """(path, old_path, status letter, additions, deletions) from ``--raw --numstat -z`` output: the raw
    records (``:mode mode sha sha S\\0path\\0`` or ``…R100\\0old\\0new\\0``) come first, then the numstat
    ones (``a\\td\\tpath\\0`` or ``a\\td\\t\\0old\\0new\\0``) in the same order."""
    tokens = text.split("\0")
    raw: list[tuple[str, str | None, str]] = []
    counts: list[tuple[int | None, int | None]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok:
            i += 1
            continue
        if tok.startswith(":"):
            letter = tok.rsplit(" ", 1)[-1][:1]
            if letter in ("R", "C"):
                raw.append((tokens[i + 2], tokens[i + 1], letter))
                i += 3
            else:
                raw.append((tokens[i + 1], None, letter))
                i += 2
            continue
        added, deleted, rest = tok.split("\t", 2)
        counts.append((None if added == "-" else int(added), None if deleted == "-" else int(deleted)))
        i += 1 if rest else 3  # a rename's numstat record carries its two paths in the next tokens
    if len(raw) != len(counts):
        raise ExternalError(f"git diff --raw --numstat gave {len(raw)} statuses but {len(counts)} counts")
    return [(p, old, s, a, d) for (p, old, s), (a, d) in zip(raw, counts, strict=True)]


def _split_patch(text: str) -> list[str]:
    """The patch cut at each ``diff --git`` header, one piece per file, in order."""
    pieces: list[str] = []
    start = -1
    pos = 0
    marker = "diff --git "
    while True:
        at = text.find(marker, pos)
        if at == -1:
            break
        if at == 0 or text[at - 1] == "\n":
            if start >= 0:
                pieces.append(text[start:at])
            start = at
        pos = at + len(marker)
    if start >= 0:
        pieces.append(text[start:])
    return pieces


def branch_diff(repo: str | os.PathLike[str], base_ref: str, branch: str, *, patch: bool = True) -> BranchDiff:
    """What ``branch`` changes against its merge-base with ``base_ref`` (committed work only)."""
    mb = git(repo, "merge-base", base_ref, branch, check=False)
    if mb.code != 0 or not mb.stdout.strip():
        raise ExternalError(f"no common history between {base_ref} and {branch} in {repo}",
                            hint=f"does branch {branch} exist? (`git -C {repo} branch --list`)")
    base = mb.stdout.strip()
    # The patch (the long call) runs in a thread beside the numstat and log calls: git does the work, so
    # the three overlap on a multi-core machine.
    patch_out: list[object] = []

    def _patch() -> None:
        try:
            patch_out.append(git(repo, "diff", *_DIFF_OPTS, base, branch, "--").stdout)
        except BaseException as exc:  # handed to the caller below
            patch_out.append(exc)

    worker = threading.Thread(target=_patch, daemon=True) if patch else None
    if worker is not None:
        worker.start()
    try:
        stats = _parse_raw_numstat(git(repo, "diff", *_DIFF_OPTS, "--raw", "--numstat", "-z", base, branch,
                                       "--").stdout)
        log = git(repo, "log", "--no-color", "--format=%H%x00%s%x00", f"{base}..{branch}", "--").stdout
    finally:
        if worker is not None:
            worker.join()
    pieces: list[str] = []
    if patch:
        if isinstance(patch_out[0], BaseException):
            raise patch_out[0]
        pieces = _split_patch(str(patch_out[0]))
        if len(pieces) != len(stats):
            raise ExternalError(f"git diff gave {len(pieces)} file patches for {len(stats)} changed files in {repo}")
    files = tuple(
        FileChange(path, _STATUS.get(letter, "unmerged"), a, d, old, pieces[i] if patch else "")
        for i, (path, old, letter, a, d) in enumerate(stats)
    )
    parts = log.replace("\n", "").split("\0")
    commits = tuple(Commit(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2) if parts[i])
    head = commits[0].sha if commits else base
    return BranchDiff(base, head, files, commits)
