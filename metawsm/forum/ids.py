"""Identifiers and timestamps: ULIDs (no dependency), RFC 3339 UTC times, control-thread ids."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = [0, 0]  # last millisecond, last 80-bit random part (monotonic within one process)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid() -> str:
    """A 26-character ULID: 48-bit millisecond time + 80 random bits, monotonic within a process."""
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms <= _last[0]:
            ms = _last[0]
            rand = _last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last[0], _last[1] = ms, rand & ((1 << 80) - 1)
    return _encode(ms, 10) + _encode(_last[1], 16)


def now() -> str:
    """The current time as RFC 3339 UTC with microseconds, e.g. 2024-05-01T12:00:00.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_thread_id() -> str:
    return "fthr-" + ulid().lower()


def seg(value: str | None) -> str:
    """Lower-case, keep [a-z0-9], map every other character to '-', trim '-', 'unknown' if empty."""
    out = "".join(c if ("a" <= c <= "z" or "0" <= c <= "9") else "-" for c in (value or "").lower())
    return out.strip("-") or "unknown"


def control_thread_id(run_id: str, agent_name: str) -> str:
    """The deterministic id of the control thread of (run, agent): fctrl-<seg(run)>-<seg(agent)>."""
    return f"fctrl-{seg(run_id)}-{seg(agent_name)}"


def agent_key(ticket: str, agent: str) -> str:
    """The forum's name for one agent of one ticket (`DEMO-1/writer`): control threads are per
    (run, agent key), so two tickets with an agent of the same name never share a thread."""
    return agent if "/" in agent else f"{ticket}/{agent}"
