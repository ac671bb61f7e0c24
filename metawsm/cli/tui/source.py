"""Where `metawsm tui` gets its data and sends its actions: the `Source` protocol (the local repository in
tui/local.py, a daemon in tui/remote.py) and the text both render the same way (forum threads, the gate)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from metawsm.cli.tui.model import AgentRow, Board
from metawsm.runtime.base import Screen

MAX_MESSAGE_BYTES = 60_000  # answers, messages and feedback typed in the TUI (the forum's own bound is 64 KiB)


@dataclass(frozen=True)
class ThreadLine:
    kind: str  # question | answer | post | signal | state
    who: str
    when: str
    text: str


class Source(Protocol):
    where: str  # for the title bar: the repository's root or the daemon's URL

    def board(self) -> Board: ...

    def screen(self, row: AgentRow) -> Screen | None: ...

    def diff(self, row: AgentRow) -> str: ...

    def thread(self, row: AgentRow) -> list[ThreadLine]: ...

    def checks(self, row: AgentRow) -> list[str]: ...

    def transcript(self, row: AgentRow) -> str: ...

    def answer(self, row: AgentRow, text: str) -> str: ...

    def message(self, row: AgentRow, text: str) -> str: ...

    def restart(self, row: AgentRow) -> str: ...

    def stop(self, row: AgentRow) -> str: ...

    def iterate(self, row: AgentRow, feedback: str) -> str: ...

    def close_ticket(self, row: AgentRow, *, dry_run: bool) -> str: ...

    def attach_command(self, row: AgentRow) -> list[str]: ...

    def shutdown(self) -> None: ...


def check_text(text: str, what: str) -> str:
    from metawsm.errors import UsageError

    if not text.strip():
        raise UsageError(f"the {what} is empty")
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise UsageError(f"the {what} is {len(text.encode('utf-8'))} bytes; at most {MAX_MESSAGE_BYTES}")
    return text


def thread_lines(events: Iterable[Any]) -> list[ThreadLine]:
    """A forum thread's events as lines: posts, control signals (questions and answers marked), state changes."""
    lines = []
    for e in events:
        who, when, p = f"{e.actor_type}:{e.actor_name}", e.occurred_at, e.payload
        if e.event_type == "forum.post.added":
            lines.append(ThreadLine("post", who, when, str(p.get("body", ""))))
        elif e.event_type == "forum.thread.opened":
            lines.append(ThreadLine("post", who, when, f"{p.get('title', '')}\n{p.get('body', '')}".strip()))
        elif e.event_type == "forum.control.signal":
            ctype = p.get("control_type", "")
            if ctype == "guidance_request":
                lines.append(ThreadLine("question", who, when, f"asks (attempt {p.get('attempt')}): "
                                                               f"{p.get('question', '')}"))
            elif ctype == "guidance_answer":
                lines.append(ThreadLine("answer", who, when, f"answer: {p.get('answer', '')}"))
            elif ctype == "completion":
                lines.append(ThreadLine("signal", who, when, f"completed attempt {p.get('attempt')}: "
                                                             f"{p.get('summary', '')}"))
            elif ctype == "validation":
                lines.append(ThreadLine("signal", who, when, f"validation {p.get('status')} at "
                                                             f"{str(p.get('sha') or '?')[:12]}"))
        elif e.event_type == "forum.state.changed":
            lines.append(ThreadLine("state", who, when, f"state {p.get('from_state')} → {p.get('to_state')}"))
    return lines


def gate_lines(gate: Mapping[str, Any] | None, check_log: str = "") -> list[str]:
    """The close gate as evaluated now (GateResult.to_json() shape), then the tail of the checks' log."""
    if gate is None:
        lines = ["gate: no open ticket to gate (merged, abandoned or not started)"]
    else:
        mark = "PASS" if gate.get("passed") else "REFUSED"
        lines = [f"gate of {gate['ticket']} at {str(gate.get('sha') or '?')[:12]}: {mark}"]
        for c in gate.get("checks") or ():
            lines.append(f"  {'✓' if c['passed'] else '✗'} {c['name']}: {c['reason']}")
            if not c["passed"] and c.get("fix"):
                lines.append(f"      fix: {c['fix']}")
    if check_log:
        lines += ["", "checks log (last 40 lines):", *check_log.rstrip("\n").splitlines()[-40:]]
    return lines
