"""The append-only JSONL event log: the forum's source of truth.

Writers take an exclusive `flock` on the log file, truncate a torn tail (a last line without `\\n`,
left by a writer that died mid-write), number events contiguously from the last line's `sequence`,
write them in one `write`, then fsync per policy. Readers never lock: they only consume bytes up to
the last `\\n`, so they never see a partial line.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from metawsm.errors import ForumError

CHUNK = 1 << 20  # 1 MiB reads while catching up (bounds memory)
REPAIR_HINT = (
    "the log is the source of truth and was edited by hand: fix or delete line {line} of {path} "
    "(every line must be one UTF-8 JSON object), then run `metawsm forum reindex`"
)


class LogCorrupt(ForumError):
    code = "forum_log_corrupt"

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(f"{path}:{line}: not a JSON event ({why})",
                         hint=REPAIR_HINT.format(line=line, path=path))
        self.line = line


class EventLog:
    """One `events.jsonl` file. Thread-safe within a process; flock-safe across processes."""

    def __init__(self, path: Path, *, fsync: str = "always") -> None:
        if fsync not in ("always", "batch"):
            raise ForumError(f"forum.fsync must be 'always' or 'batch', not {fsync!r}")
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None
        self._mutex = threading.RLock()

    # -- file handle ------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[Writer]:
        """Hold the exclusive lock; the tail is repaired before the body runs."""
        with self._mutex:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                writer = Writer(self, fd)
                writer.repair()
                yield writer
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def append(self, envelopes: list[dict[str, Any]], *, sync: bool | None = None) -> list[dict[str, Any]]:
        """Append envelopes (without `sequence`) as one batch: one lock, one write, one fsync."""
        with self.locked() as writer:
            return writer.write(envelopes, sync=sync)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    # -- reading ----------------------------------------------------------------------------
    def read(self, offset: int = 0, line: int = 0, *, limit_bytes: int = CHUNK
             ) -> Iterator[tuple[list[dict[str, Any]], int, int]]:
        """Complete lines from byte `offset` (line number `line` before it), in chunks:
        yields (events, end_offset, end_line). Stops at the last `\\n`."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return
        with fh:
            fh.seek(offset)
            rest = b""
            loads = orjson.loads
            while True:
                data = fh.read(limit_bytes)
                if not data:
                    return
                data = rest + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                rest = data[cut + 1:]
                lines = data[:cut].split(b"\n")
                try:
                    events = list(map(loads, lines))
                except orjson.JSONDecodeError:
                    events = self._parse_slowly(lines, line)
                if not all([type(e) is dict and type(e.get("sequence")) is int for e in events]):
                    self._parse_slowly(lines, line)
                offset += cut + 1
                line += len(lines)
                yield events, offset, line

    def _parse_slowly(self, lines: list[bytes], line: int) -> list[dict[str, Any]]:
        """Parse line by line to name the first bad one (LogCorrupt)."""
        events = []
        for i, raw in enumerate(lines):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                why = "not UTF-8" if "utf-8" in str(exc).lower() else "not JSON"
                raise LogCorrupt(self.path, line + i + 1, why) from exc
            if type(obj) is not dict or type(obj.get("sequence")) is not int:
                raise LogCorrupt(self.path, line + i + 1, "no integer sequence")
            events.append(obj)
        return events

    def last_sequence(self, fd: int | None = None) -> int:
        """The `sequence` of the last complete line (0 for an empty log)."""
        own = fd is None
        if own:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return 0
        assert fd is not None
        try:
            end = os.fstat(fd).st_size
            if end == 0:
                return 0
            tail = _last_line(fd, end)
            if tail is None:
                return 0
            try:
                return int(orjson.loads(tail)["sequence"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ForumError(f"{self.path}: the last line is not a JSON event",
                                 hint=REPAIR_HINT.format(line="(last)", path=self.path)) from exc
        finally:
            if own:
                os.close(fd)


def _last_line(fd: int, end: int) -> bytes | None:
    """The last complete line before `end` (which must follow a `\\n`), without the newline."""
    pos, buf, step = end - 1, b"", 4096
    while pos > 0:
        start = max(0, pos - step)
        buf = os.pread(fd, pos - start, start) + buf
        cut = buf.rfind(b"\n")
        if cut >= 0:
            return buf[cut + 1:]
        pos, step = start, step * 2
    return buf or None


class Writer:
    """What a lock holder may do: read the repaired end, write a batch."""

    def __init__(self, log: EventLog, fd: int) -> None:
        self.log, self.fd = log, fd
        self.size = 0
        self.next_sequence = 1

    def repair(self) -> None:
        fd = self.fd
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            keep = _torn_cut(fd, size)
            os.ftruncate(fd, keep)
            os.fsync(fd)
            size = keep
        self.size = size
        self.next_sequence = self.log.last_sequence(fd) + 1 if size else 1

    def write(self, envelopes: list[dict[str, Any]], *, sync: bool | None = None) -> list[dict[str, Any]]:
        """Number, serialise and write envelopes; returns them with `sequence` set."""
        if not envelopes:
            return []
        seq = self.next_sequence
        parts = []
        dumps = orjson.dumps
        for env in envelopes:
            env["sequence"] = seq
            seq += 1
            parts.append(dumps(env))
        parts.append(b"")
        data = b"\n".join(parts)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        if sync if sync is not None else self.log.fsync == "always":
            os.fsync(self.fd)
        self.size += len(data)
        self.next_sequence = seq
        return envelopes


def _torn_cut(fd: int, size: int) -> int:
    """Offset just after the last `\\n` before `size` (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        cut = os.pread(fd, pos - start, start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0
