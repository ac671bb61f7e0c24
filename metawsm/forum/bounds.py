"""Bounds on every value that reaches the log or SQLite: integer ranges, string lengths and the
full-string patterns of ids and names. One place, shared by the forum, the CLI, the API models and
the log reader, so that a value out of range is refused at the edge (a located message, nothing
written) instead of poisoning the log. Import-light: `metawsm signal` uses it on its fast path."""

from __future__ import annotations

import re

from metawsm.errors import UsageError

MAX_INT = (1 << 63) - 1  # SQLite INTEGER is signed 64-bit
MIN_INT = -(1 << 63)
MAX_ATTEMPT = 1_000_000  # an agent restarted more often than this is a bug, not a workload
MAX_LIMIT = 10_000  # rows one list call returns

MAX_NAME = 200  # ticket, run id, agent, actor and viewer names
MAX_AGENT_KEY = 2 * MAX_NAME + 1  # the forum's agent names are TICKET/agent
MAX_KEY = 200  # idempotency keys, correlation ids
MAX_THREAD_ID = 200

# Thread ids: generated ones are fthr-<ulid>, control ones fctrl-<run>-<agent>; a caller may choose
# its own within this alphabet (never `/`, `..` or spaces: it is used in URLs and file names).
THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
# Names may hold most characters (agent keys are TICKET/agent) but no control characters. "Blank" is
# Python's str.isspace and ECMA-262's \s together, so the API's patterns and these checks agree.
CONTROL_CHARS = "\\x00-\\x1f\\x7f\\x85\\u2028\\u2029"
BLANK_CHARS = ("\\t\\n\\x0b\\x0c\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
               "\\u205f\\u3000\\ufeff")
_CONTROL = re.compile(f"[{CONTROL_CHARS}]")
_NONBLANK = re.compile(f"[^{BLANK_CHARS}]")


def is_blank(value: str) -> bool:
    """No character but blanks (the API's patterns use the same definition)."""
    return _NONBLANK.search(value) is None


class BoundsError(UsageError):
    code = "out_of_range"


def check_int(value: object, what: str, *, lo: int = 0, hi: int = MAX_INT) -> int:
    """`value` as an int in [lo, hi]; BoundsError naming `what` otherwise (bool is not an int)."""
    if type(value) is not int:
        raise BoundsError(f"{what}: must be an integer, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise BoundsError(f"{what}: {_short(value)} is out of range ({lo} to {hi})")
    return value


def check_name(value: object, what: str, *, max_len: int = MAX_NAME, required: bool = True) -> str | None:
    """A name: a string of at most `max_len` characters without control characters (no trailing
    newline); None or "" allowed only when not `required`."""
    if value is None or value == "":
        if required:
            raise BoundsError(f"{what}: is required")
        return None
    if not isinstance(value, str):
        raise BoundsError(f"{what}: must be a string")
    if is_blank(value):
        raise BoundsError(f"{what}: must not be blank")
    if len(value) > max_len:
        raise BoundsError(f"{what}: is {len(value)} characters long, longer than {max_len}")
    if _CONTROL.search(value):
        raise BoundsError(f"{what}: must not contain control characters (newline, tab, escape, …)")
    return value


def check_thread_id(value: object, what: str = "thread id") -> str:
    if not isinstance(value, str) or not THREAD_ID.fullmatch(value):
        raise BoundsError(f"{what}: {_short(value)} is not a thread id (letters, digits, '.', '_', ':', "
                          f"'-'; at most {MAX_THREAD_ID} characters, starting with a letter or digit)")
    return value


def int_arg(lo: int = 0, hi: int = MAX_INT):  # type: ignore[no-untyped-def]
    """An argparse `type=` for a bounded integer (argparse reports the error as usage, exit 2)."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_short(text)} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{_short(value)} is out of range ({lo} to {hi})")
        return value

    parse.__name__ = "integer"
    return parse


def float_arg(lo: float, hi: float):  # type: ignore[no-untyped-def]
    """An argparse `type=` for a finite float in [lo, hi]."""
    import argparse

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_short(text)} is not a number") from None
        if not lo <= value <= hi:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{_short(text)} is out of range ({lo:g} to {hi:g})")
        return value

    parse.__name__ = "number"
    return parse


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
