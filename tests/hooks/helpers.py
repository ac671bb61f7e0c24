"""Helpers for the hook tests: git that returns the result instead of raising, file writers."""

from __future__ import annotations

import subprocess
from pathlib import Path

GOOD_PLAN = """\
name: {name}
tickets: [T-1]
agents:
  - name: writer
    profile: shell
    run: "true"
"""

BAD_PLAN = """\
name: {name}
tickets: [T-1]
agents:
  - name: writer
    profile: shel
    run: "true"
"""

TICKET = "id: T-1\ntitle: A ticket\n"


def sh(cwd: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """git (or any command when args[0] is not a git sub-command is wanted) without raising."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input, timeout=120)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commit(cwd: Path, *paths: str, message: str = "change", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """git add PATHS, then git commit (hooks run); the commit's result."""
    if paths:
        added = sh(cwd, "add", "-f", "--", *paths)
        assert added.returncode == 0, added.stderr
    return sh(cwd, "commit", "-q", "-m", message, *extra)
