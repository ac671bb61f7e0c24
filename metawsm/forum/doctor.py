"""`forum doctor`: find the log lines the index skips (not JSON, not a valid event, a repeated or
out-of-order sequence, a torn tail) with their byte offsets, and optionally quarantine them: the bad
lines move to `quarantine-<time>.jsonl` beside the log, a full copy of the log is kept as
`events.jsonl.before-doctor-<time>`, the log is rewritten in place under its lock (so writers in
other processes keep appending to the same file), and the index is rebuilt."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawsm.forum.log import Problem

if TYPE_CHECKING:
    from metawsm.forum.service import Forum


@dataclass(frozen=True)
class Diagnosis:
    log: Path
    events: int
    problems: list[Problem]
    quarantined: Path | None = None
    backup: Path | None = None
    index_events: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"log": str(self.log), "events": self.events, "healthy": self.healthy,
                "problems": [p.to_json() for p in self.problems],
                "quarantined": str(self.quarantined) if self.quarantined else None,
                "backup": str(self.backup) if self.backup else None, "index_events": self.index_events}


def diagnose(forum: Forum) -> Diagnosis:
    count, problems = forum.log.scan()
    return Diagnosis(forum.log.path, count, problems)


def quarantine(forum: Forum) -> Diagnosis:
    """Move every bad line out of the log (under the log lock) and rebuild the index."""
    log = forum.log
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    with forum._mutex, log.locked() as writer:  # the lock also cuts a torn tail (nothing else to keep)
        count, problems = log.scan()
        if not problems:
            return Diagnosis(log.path, count, problems, index_events=forum.index.rebuild())
        data = os.pread(writer.fd, writer.size, 0)
        bad_at = {p.offset for p in problems}
        good: list[bytes] = []
        bad: list[bytes] = []
        pos = 0
        for raw in data.split(b"\n")[:-1]:
            (bad if pos in bad_at else good).append(raw)
            pos += len(raw) + 1
        backup = log.path.with_name(f"{log.path.name}.before-doctor-{stamp}")
        qpath = log.path.with_name(f"quarantine-{stamp}.jsonl")
        _write_synced(backup, data)
        _write_synced(qpath, b"".join(raw + b"\n" for raw in bad))
        kept = b"".join(raw + b"\n" for raw in good)
        os.ftruncate(writer.fd, 0)
        view = memoryview(kept)
        while view:  # the descriptor is O_APPEND: after the truncation, writes start at 0
            view = view[os.write(writer.fd, view):]
        os.fsync(writer.fd)
        writer.size = len(kept)
        indexed = forum.index.rebuild()
    return Diagnosis(log.path, count, problems, quarantined=qpath, backup=backup, index_events=indexed)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
