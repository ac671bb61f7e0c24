"""`metawsm signal completion|validation` as agents run it, at the cost of about one interpreter start.

Agents signal many times a minute; the full path (argparse, orjson, sqlite3, the forum's dataclasses: ~35 ms
of imports, ~4x the interpreter) is paid by every call. This path imports only `os`, `sys`, `time`,
`fcntl` and the C halves of `json` (`_json`: the Python `json` package imports `re`) and appends the
control event to the log under the same rules as `metawsm.forum.log` (DESIGN §6: the log is the source of
truth, the index catches up on its next read): exclusive `flock` on `events.jsonl`, a torn tail truncated
(and fsynced) first, `sequence` = the last valid line's sequence + 1 (read from the log's tail, never from
the index), one `write`, one `fsync` (the policy file is not read on the signal path: fsync is always on
and the body limit is the default 64 KiB, as in `metawsm.cli.signal`).

It handles only what it can decide alone and returns None (the caller then runs the full command, which
gives every message and exit code) for anything else: a flag it does not know (`--json`, `--help`,
`--server`, `--idempotency-key`: an idempotent retry needs the index's key lookup), METAWSM_SERVER set,
no METAWSM_HOME, a value the full path would refuse, a validation without `--sha`, a log that does not
exist yet, and a control thread it cannot see in the log's last MiB. The thread must exist because this
path never opens one: a valid event of that thread in the log means it was opened (every writer opens
the thread before its first signal, under the lock), so the first signal of a (run, agent) and any
signal whose thread is far back in a busy log take the full path. Fall-backs happen before anything is
written.
"""

# os.path, not pathlib: pathlib imports fnmatch and re.
# ruff: noqa: PTH118

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the fast path
if TYPE_CHECKING:
    from typing import Any

MAX_INT = (1 << 63) - 1  # metawsm.forum.bounds (which imports re)
MAX_ATTEMPT = 1_000_000
MAX_NAME = 200
MAX_AGENT_KEY = 2 * MAX_NAME + 1  # TICKET/agent
MAX_BODY = 65536  # forum.max_body_bytes' default: the signal path never reads the policy
WINDOWS = (1 << 16, 1 << 20)  # how far back the control thread is looked for
CONTEXT = (("run", "METAWSM_RUN"), ("ticket", "METAWSM_TICKET"), ("agent", "METAWSM_AGENT"),
           ("attempt", "METAWSM_ATTEMPT"))
FLAGS = {"completion": ("summary",), "validation": ("status", "done-criteria", "sha", "output-tail")}
_CONTROL_CHARS = frozenset([*map(chr, range(32)), "\x7f", "\x85", "\u2028", "\u2029"])
_HEX = frozenset("0123456789abcdef")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def run(argv: list[str]) -> int | None:
    """`argv` after `signal`: the exit status, or None when the full command must handle it."""
    if os.environ.get("METAWSM_SERVER") or not argv or argv[0] not in FLAGS:
        return None
    ctype = argv[0]
    flags = _flags(argv[1:], (*FLAGS[ctype], "run", "ticket", "agent", "attempt"))
    home = os.environ.get("METAWSM_HOME")
    if flags is None or not home:
        return None
    ctx = _context(flags)
    payload = _payload(ctype, flags, ctx) if ctx else None
    if ctx is None or payload is None:
        return None
    tid = f"fctrl-{_seg(payload['run_id'])}-{_seg(payload['agent_name'])}"
    path = os.path.join(os.path.realpath(home), ".metawsm", "state", "forum", "events.jsonl")
    env = {"event_type": "forum.control.signal", "thread_id": tid, "ticket": ctx["ticket"],
           "run_id": payload["run_id"], "agent_name": payload["agent_name"], "actor_type": "agent",
           "actor_name": payload["agent_name"], "payload": payload}
    try:
        seq = append(path, env)
    except OSError as exc:  # writing or syncing failed: the tail is repaired by the next writer
        sys.stderr.write(f"metawsm: error: {path}: {exc.strerror or exc}\n")
        return 1
    if seq is None:
        return None
    kick_reconcile(home, payload["run_id"])
    sys.stdout.write(f"{ctype} recorded (#{seq} in {tid})\n")
    sys.stdout.flush()
    return 0


def _flags(args: list[str], known: tuple[str, ...]) -> dict[str, str] | None:
    """`--name value` / `--name=value` for the known names (the last one wins, as with argparse)."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            return None
        name, eq, value = arg[2:].partition("=")
        if name not in known:
            return None
        if not eq:
            i += 1
            if i == len(args) or args[i].startswith("-"):
                return None  # argparse decides what a value that looks like a flag means
            value = args[i]
        out[name] = value
        i += 1
    return out


def _context(flags: dict[str, str]) -> dict[str, Any] | None:
    """As metawsm.cli.signal.context: flags, else the environment; None where that one refuses."""
    found: dict[str, Any] = {}
    for name, var in CONTEXT:
        value = flags.get(name) or os.environ.get(var, "").strip()
        if not value:
            return None
        found[name] = value
    agent = found["agent"]
    found["agent"] = agent if "/" in agent else f"{found['ticket']}/{agent}"
    try:
        attempt = int(found["attempt"], 10)
    except ValueError:
        return None
    if not 1 <= attempt <= MAX_ATTEMPT:
        return None
    found["attempt"] = attempt
    if not (_name_ok(found["run"]) and _name_ok(found["ticket"]) and _name_ok(found["agent"], MAX_AGENT_KEY)):
        return None
    return found


def _payload(ctype: str, flags: dict[str, str], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The payload metawsm.forum.control.build makes, when it and Forum.signal would accept it."""
    payload: dict[str, Any] = {"schema_version": 1, "control_type": ctype, "run_id": ctx["run"],
                               "agent_name": ctx["agent"], "attempt": ctx["attempt"]}
    if ctype == "completion":
        if "summary" in flags:
            payload["summary"] = flags["summary"]
    else:
        status = flags.get("status")
        sha = (flags.get("sha") or "").strip().lower()
        if status is None or "done-criteria" not in flags or not sha:
            return None  # required flags missing, or the sha needs git: the full path
        payload.update(status=status.strip().lower() if status else None, done_criteria=flags["done-criteria"],
                       sha=sha)
        if "output-tail" in flags:
            payload["output_tail"] = flags["output-tail"]
        if payload["status"] not in ("passed", "failed") or _blank(payload["done_criteria"]):
            return None
        if not 7 <= len(sha) <= 64 or not _HEX.issuperset(sha):
            return None
    for name in ("summary", "output_tail"):
        if payload.get(name) and not _body_ok(payload[name]):
            return None
    if not all(_utf8(v) for v in payload.values() if isinstance(v, str)):
        return None
    return payload


def _blank(value: str) -> bool:
    """metawsm.forum.bounds.is_blank: str.isspace's blanks and U+FEFF."""
    return not value.replace("\ufeff", "").strip()


def _name_ok(value: str, max_len: int = MAX_NAME) -> bool:
    """metawsm.forum.bounds.check_name without re."""
    return not _blank(value) and len(value) <= max_len and _CONTROL_CHARS.isdisjoint(value) and _utf8(value)


def _body_ok(body: str) -> bool:
    """metawsm.forum.threads.check_body(required=False) with the default limit."""
    return "\x00" not in body and _utf8(body) and len(body.encode("utf-8")) <= MAX_BODY


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate (undecodable argv bytes): the full path reports it
    except UnicodeEncodeError:
        return False
    return True


def _seg(value: str) -> str:
    """metawsm.forum.ids.seg."""
    out = "".join(c if ("a" <= c <= "z" or "0" <= c <= "9") else "-" for c in value.lower())
    return out.strip("-") or "unknown"


def append(path: str, fields: dict[str, Any]) -> int | None:
    """Append one event (`fields` without sequence, ids or time) to the log at `path` under its lock:
    its sequence, or None (nothing written) when the log is missing or the thread is not in its tail."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return None  # no log yet (or unreadable): the full path creates it or says why
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a writer died mid-line: as Writer.repair
                size = _torn_cut(fd, size)
                os.ftruncate(fd, size)
                os.fsync(fd)
            seq = last_sequence(fd, size) + 1
            if seq > MAX_INT or not thread_seen(fd, size, fields["thread_id"]):
                return None
        except OSError:
            return None  # nothing written: the full path reports it
        data = encode(envelope(seq, fields)) + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        return seq
    finally:
        os.close(fd)  # releases the flock


def envelope(seq: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The envelope metawsm.forum.threads.envelope makes, in its key order."""
    import time

    ns = time.time_ns()
    event_id = _ulid(ns // 1_000_000)
    us = ns // 1000
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + f".{us % 1_000_000:06d}Z"
    return {"sequence": seq, "event_id": event_id, "event_type": fields["event_type"], "event_version": 1,
            "occurred_at": at, "thread_id": fields["thread_id"], "ticket": fields["ticket"],
            "run_id": fields["run_id"], "agent_name": fields["agent_name"], "actor_type": fields["actor_type"],
            "actor_name": fields["actor_name"], "correlation_id": event_id, "causation_id": None,
            "idempotency_key": None, "payload": fields["payload"]}


def _ulid(ms: int) -> str:
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def encode(obj: Any) -> bytes:
    """Compact JSON of dicts, str, int, bool and None (what orjson.dumps writes for an envelope)."""
    from _json import encode_basestring

    def enc(v: Any) -> str:
        if isinstance(v, str):
            return encode_basestring(v)  # type: ignore[no-any-return]
        if v is None:
            return "null"
        if v is True or v is False:
            return "true" if v else "false"
        if type(v) is int:
            return str(v)
        if isinstance(v, dict):
            return "{" + ",".join(f"{encode_basestring(k)}:{enc(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"cannot encode {type(v).__name__}")

    return enc(obj).encode("utf-8")


def decode(raw: bytes) -> Any:
    """One JSON line, or None when it is not JSON (the C scanner of `json`, without `re`)."""
    from _json import make_scanner

    class Ctx:
        strict, object_hook, object_pairs_hook = True, None, None
        memo: dict[str, str] = {}  # noqa: RUF012 (the scanner's own interned keys)
        parse_float, parse_int, parse_constant = float, int, float

    try:
        text = raw.decode("utf-8").strip(" \t\r\n")
        obj, end = make_scanner(Ctx)(text, 0)  # type: ignore[arg-type]
    except Exception:  # StopIteration, or json.JSONDecodeError (whose import costs re)
        return None
    return obj if end == len(text) else None


def _valid_seq(e: Any) -> int | None:
    seq = e.get("sequence") if type(e) is dict else None
    return seq if type(seq) is int and 0 < seq <= MAX_INT else None


def last_sequence(fd: int, end: int) -> int:
    """As EventLog.last_sequence: the sequence of the last complete line that has a valid one."""
    while end > 0:
        start, line = _last_line(fd, end)
        seq = _valid_seq(decode(line))
        if seq is not None:
            return seq
        end = start
    return 0


def thread_seen(fd: int, end: int, thread_id: str) -> bool:
    """Whether a valid event of `thread_id` is in the last WINDOWS[-1] bytes before `end`."""
    from _json import encode_basestring

    needle = f'"thread_id":{encode_basestring(thread_id)}'.encode()
    for window in WINDOWS:
        start = max(0, end - window)
        data = os.pread(fd, end - start, start)
        if start:  # the first line may be cut: skip it
            data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
        at = len(data)
        while True:
            at = data.rfind(needle, 0, at)
            if at < 0:
                break
            lo, hi = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at)
            e = decode(data[lo:hi if hi >= 0 else len(data)])
            if _valid_seq(e) is not None and e.get("thread_id") == thread_id:
                return True
        if start == 0:
            return False
    return False


def _last_line(fd: int, end: int) -> tuple[int, bytes]:
    """(offset of, text of) the last complete line before `end` (which follows a newline)."""
    pos, buf, step = end - 1, b"", 4096
    while pos > 0:
        start = max(0, pos - step)
        buf = os.pread(fd, pos - start, start) + buf
        cut = buf.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1, buf[cut + 1:]
        pos, step = start, step * 2
    return 0, buf


def _torn_cut(fd: int, size: int) -> int:
    """Offset just after the last newline before `size` (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        cut = os.pread(fd, pos - start, start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def kick_reconcile(home: str, run_id: str) -> None:
    """As metawsm.kick.kick_reconcile, with posix_spawn (no subprocess import)."""
    if os.environ.get("METAWSM_RUN") != run_id or os.environ.get("METAWSM_KICK") == "0":
        return
    null = os.devnull
    try:
        os.posix_spawn(sys.executable, [sys.executable, "-m", "metawsm", "-C", home, "reconcile", "--run", run_id,
                                        "--quiet"], os.environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0), (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)])
    except OSError:  # as the full path: the signal is recorded, the next reconcile moves the run on
        return
