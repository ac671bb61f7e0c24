"""Where each attempt of each agent is logged (tmux pipe-pane), and reading those logs back."""

from __future__ import annotations

import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def transcript_path(logs_dir: Path, run_id: str, ticket: str, agent: str, attempt: int) -> Path:
    """``logs/<run>/<ticket>/<agent>.<attempt>.log`` (names reduced to safe file-name characters)."""
    def clean(part: str) -> str:
        return _SAFE.sub("_", part) or "_"

    return logs_dir / clean(run_id) / clean(ticket) / f"{clean(agent)}.{int(attempt)}.log"


def attempts(logs_dir: Path, run_id: str, ticket: str, agent: str) -> list[int]:
    """The attempts that have a transcript, oldest first."""
    folder = transcript_path(logs_dir, run_id, ticket, agent, 0).parent
    prefix = transcript_path(logs_dir, run_id, ticket, agent, 0).name.rsplit(".", 2)[0] + "."
    found = []
    for path in folder.glob(f"{prefix}*.log") if folder.is_dir() else ():
        middle = path.name[len(prefix):-len(".log")]
        if middle.isdigit():
            found.append(int(middle))
    return sorted(found)


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]|\r")


def plain(text: str) -> str:
    """A transcript without terminal control sequences (a TUI's raw output is mostly redraws)."""
    return _ANSI.sub("", text)
