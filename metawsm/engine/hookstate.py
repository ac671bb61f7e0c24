"""What the AI CLIs' own hooks last said about each agent of a run (agents/events.py posts them in the agent's
control thread as ``agent event: <label> (attempt N)[: detail]``), for health and status.

- ``session started`` / ``turn started`` / ``working again``: the agent is inside a turn — working, even while
  its pane is silent (print mode prints little; a long command prints nothing);
- ``turn finished`` with the CLI still running: an interactive agent ended its turn without signalling
  completion and waits for a person;
- ``waiting for input``: the CLI asks its user (a permission prompt, or idle at its prompt).

The last two make the agent *wait for input*: a question for a person like `metawsm ask` (answered by
attaching to the session), never a reason to restart it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metawsm.forum import ids

if TYPE_CHECKING:
    from metawsm.engine.context import Engine

_EVENT = re.compile(r"^agent event: (?P<label>[^(]+?) \(attempt (?P<attempt>\d+)\)(?:: (?P<detail>.*))?$", re.S)
WORKING = frozenset({"session started", "turn started", "working again"})
WAITING = frozenset({"turn finished", "waiting for input"})
_SQL = ("SELECT ct.agent_name, e.occurred_at, e.payload_json, e.thread_id FROM events e"
        " JOIN control_threads ct ON ct.thread_id = e.thread_id"
        " WHERE ct.run_id = ? AND e.sequence IN (SELECT MAX(e2.sequence) FROM events e2"
        " JOIN control_threads c2 ON c2.thread_id = e2.thread_id WHERE c2.run_id = ? AND e2.is_post = 1"
        " AND e2.actor_type = 'agent' AND e2.payload_json LIKE ? GROUP BY e2.thread_id)")


@dataclass(frozen=True)
class HookEvent:
    attempt: int
    label: str
    detail: str
    at: float
    thread_id: str

    @property
    def working(self) -> bool:
        return self.label in WORKING

    @property
    def waiting(self) -> bool:
        return self.label in WAITING

    def question(self) -> str:
        if self.label == "waiting for input":
            return f"waiting for input: {self.detail or 'the agent asks its user'}"
        return "finished its turn without signalling completion" + (f": {self.detail}" if self.detail else "")


def run_hook_events(eng: Engine, run_id: str) -> dict[str, HookEvent]:
    """agent key → the last hook event of each agent of the run (one index query)."""
    # The Forum has no public read for this yet; it reads its index the way run_signals does.
    rows = eng.forum._with_index(lambda c: c.execute(_SQL, (run_id, run_id, '%"agent event: %')).fetchall())
    found: dict[str, HookEvent] = {}
    for agent_name, occurred_at, payload_json, thread_id in rows:
        try:
            body = str(json.loads(payload_json).get("body", ""))
        except (ValueError, AttributeError):
            continue
        match = _EVENT.match(body)
        if match:
            found[agent_name] = HookEvent(int(match["attempt"]), match["label"].strip(),
                                          (match["detail"] or "").strip(), ids.parse_time(occurred_at).timestamp(),
                                          thread_id)
    return found
