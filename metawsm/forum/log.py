"""The append-only JSONL event log: the forum's source of truth.

Writers take an exclusive `flock` on the log file, truncate a torn tail (a last line without `\\n`,
left by a writer that died mid-write), number events contiguously from the last line's `sequence`,
write them in one `write`, then fsync per policy. Readers never lock: they only consume bytes up to
the last `\\n`, so they never see a partial line.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from metawsm.errors import ForumError
from metawsm.forum.bounds import MAX_INT, MIN_INT
from metawsm.forum.ids import parse_time
from metawsm.forum.models import ACTOR_TYPES, CONTROL, PRIORITY_RANK, STATES

_log = logging.getLogger(__name__)

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
    def chunks(self, offset: int = 0, *, limit_bytes: int = CHUNK) -> Iterator[tuple[list[bytes], int, int]]:
        """The complete lines from byte `offset`, in chunks of about `limit_bytes`: yields (lines without
        their newline, the chunk's start offset, its end offset). Stops at the last `\\n`."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return
        with fh:
            fh.seek(offset)
            rest = b""
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
                yield data[:cut].split(b"\n"), offset, offset + cut + 1
                offset += cut + 1

    def read(self, offset: int = 0, line: int = 0, *, limit_bytes: int = CHUNK, after: int = 0,
             problems: list[Problem] | None = None) -> Iterator[tuple[list[dict[str, Any]], int, int]]:
        """Complete lines from byte `offset` (line number `line` before it), in chunks:
        yields (events, end_offset, end_line). Stops at the last `\\n`. A line that is not a valid
        event, or whose sequence does not follow `after` (the last valid sequence before `offset`),
        is skipped and reported in `problems` (never raised): one bad line never hides the rest."""
        loads = orjson.loads
        prev = after
        for lines, start, end in self.chunks(offset, limit_bytes=limit_bytes):
            try:
                events = list(map(loads, lines))
            except orjson.JSONDecodeError:
                events = [_loads_or_none(raw) for raw in lines]
            good = []
            for i, e in enumerate(events):
                why = check_event(e, prev)
                if why is None:
                    good.append(e)
                    prev = e["sequence"]
                else:
                    self.skip(lines, i, start, line, why, problems)
            line += len(lines)
            yield good, end, line

    def skip(self, lines: list[bytes], i: int, start: int, line: int, why: str,
             problems: list[Problem] | None) -> None:
        """Report line `i` of a chunk read from byte `start` (line number `line` before it) as skipped."""
        at = start + sum(len(raw) + 1 for raw in lines[:i])
        self._report(Problem(line + i + 1, at, why), problems)

    def _report(self, problem: Problem, problems: list[Problem] | None) -> None:
        if problems is not None:
            problems.append(problem)
        _log.debug("%s:%d (byte %d): skipped: %s", self.path, problem.line, problem.offset, problem.why)

    def scan(self) -> tuple[int, list[Problem]]:
        """Read the whole log: (valid events, every skipped line with its byte offset and reason)."""
        problems: list[Problem] = []
        count = sum(len(events) for events, _, _ in self.read(0, 0, problems=problems))
        size = self.size()
        end = self._complete_end()
        if end < size:
            problems.append(Problem(0, end, f"torn tail: {size - end} bytes without a final newline"))
        return count, problems

    def _complete_end(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            size = os.fstat(fd).st_size
            return size if not size or os.pread(fd, 1, size - 1) == b"\n" else _torn_cut(fd, size)
        finally:
            os.close(fd)

    def last_sequence(self, fd: int | None = None) -> int:
        """The `sequence` of the last valid complete line (0 for a log without one): a torn tail, a
        hand-edited or out-of-range last line is passed over, never raised."""
        own = fd is None
        if own:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return 0
        assert fd is not None
        try:
            size = os.fstat(fd).st_size
            end = size if not size or os.pread(fd, 1, size - 1) == b"\n" else _torn_cut(fd, size)
            while end > 0:
                tail = _last_line(fd, end)
                if tail is None:
                    return 0
                e = _loads_or_none(tail)
                seq = e.get("sequence") if type(e) is dict else None
                if type(seq) is int and 0 < seq <= MAX_INT:  # the number is taken, even by a bad line
                    return seq
                end -= len(tail) + 1
            return 0
        finally:
            if own:
                os.close(fd)


class Problem(NamedTuple):
    """A log line that was skipped: its 1-based line number, byte offset and why."""

    line: int
    offset: int
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "offset": self.offset, "why": self.why}


def _loads_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _NotJson("not UTF-8" if "utf-8" in str(exc).lower() else "not JSON")


class _NotJson:
    def __init__(self, why: str) -> None:
        self.why = why


_STR_FIELDS = ("event_id", "event_type", "occurred_at", "thread_id", "ticket", "actor_type")
_OPT_FIELDS = ("run_id", "agent_name", "actor_name", "correlation_id", "causation_id", "idempotency_key")
ENUMS = {"priority": PRIORITY_RANK, "to_priority": PRIORITY_RANK, "from_priority": PRIORITY_RANK,
          "to_state": STATES, "from_state": STATES}
ENUM_KEYS = frozenset(ENUMS)  # payload keys whose values check_event compares with a list


def check_event(e: Any, prev: int) -> str | None:
    """Why `e` is not an event the index can hold after sequence `prev` (None: it is)."""
    if type(e) is not dict:
        return e.why if isinstance(e, _NotJson) else "not a JSON object"
    seq = e.get("sequence")
    if type(seq) is not int or not 0 < seq <= MAX_INT:
        return "no valid sequence (an integer from 1 to 2^63-1)"
    if seq <= prev:
        return f"sequence {seq} repeats or goes back (the previous event is {prev})"
    for k in _STR_FIELDS:
        if type(e.get(k)) is not str:
            return f"{k} missing or not a string"
    if e["actor_type"] not in ACTOR_TYPES:
        return f"actor_type {e['actor_type'][:40]!r} unknown"
    for k in _OPT_FIELDS:
        v = e.get(k)
        if v is not None and type(v) is not str:
            return f"{k} is not a string"
    version = e.get("event_version", 1)
    if type(version) is not int or not 0 <= version <= MAX_INT:
        return "event_version is not a small integer"
    p = e.get("payload")
    if type(p) is not dict:
        return "payload missing or not an object"
    for k, v in p.items():
        t = type(v)
        if t is int and not MIN_INT <= v <= MAX_INT:
            return f"payload.{k} is out of the 64-bit range"
        if t is dict or t is list:
            return f"payload.{k} is not a scalar"
        if k in ENUMS and v not in ENUMS[k] and v not in ("", None):
            return f"payload.{k} {str(v)[:40]!r} unknown"
    if e["event_type"] == CONTROL and "attempt" in p:
        a = p["attempt"]
        if type(a) is not int or not 0 <= a <= MAX_INT:
            return "payload.attempt is not an integer from 0 to 2^63-1"
    try:
        parse_time(e["occurred_at"])
    except ValueError:
        return "occurred_at is not an RFC 3339 time"
    return None


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
        if self.next_sequence > MAX_INT:
            raise ForumError(f"{self.log.path}: the last sequence is 2^63-1; the log cannot grow",
                             hint="archive this log and start a new one")

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
