"""Watching and steering one agent from outside its session: its live screen and a message typed into it.

The same two operations serve `metawsm tui` (its preview and its `m` key) and the daemon (the web UI's live
screens and its "send message" box): a message is pasted into the agent's session as one bracketed paste and
posted in the agent's control thread, so the forum keeps what a person told the agent and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metawsm.errors import NotFoundError, UsageError
from metawsm.forum.ids import control_thread_id

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.runtime.base import Screen
    from metawsm.state.models import Agent

MAX_MESSAGE_BYTES = 60_000  # the Runtime's paste bound (runtime/tmux_screen.py)


def find_agent(eng: Engine, run_id: str, ticket: str, name: str) -> Agent:
    """The agent (run, ticket, name); NotFoundError naming what is missing."""
    if not eng.has_state():
        raise NotFoundError(f"run {run_id} not found", hint="nothing has been applied in this repository yet")
    eng.store.get_run(run_id)  # NotFoundError for an unknown run
    for agent in eng.store.list_agents(run_id):
        if agent.ticket == ticket and agent.name == name:
            return agent
    raise NotFoundError(f"no agent {ticket}/{name} in run {run_id}")


def agent_screen(eng: Engine, agent: Agent) -> Screen:
    """What the agent's session shows now (colours kept). NotFoundError when its session is not running."""
    from metawsm.errors import ExternalError

    try:
        return eng.runtime.screen(agent.session)
    except ExternalError as exc:
        raise NotFoundError(f"agent {agent.ticket}/{agent.name} has no running session ({agent.session})",
                            hint="its screen shows while its session runs") from exc


def check_message(text: str) -> str:
    if not text.strip():
        raise UsageError("the message is empty")
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise UsageError(f"the message is {size} bytes; at most {MAX_MESSAGE_BYTES}")
    if "\x00" in text:
        raise UsageError("the message holds a NUL character")
    return text


@dataclass(frozen=True)
class MessageSent:
    agent: str  # TICKET/name
    session: str
    thread_id: str
    attempt: int

    def to_json(self) -> dict[str, object]:
        return {"agent": self.agent, "session": self.session, "thread_id": self.thread_id, "attempt": self.attempt}


def send_message(eng: Engine, agent: Agent, text: str, *, actor_type: str, actor_name: str) -> MessageSent:
    """Paste `text` into the agent's session (then Enter) and post it in the agent's control thread."""
    check_message(text)
    key = eng.agent_key(agent.ticket, agent.name)
    if agent.status not in ("running", "idle", "stalled"):
        raise UsageError(f"agent {key} is {agent.status}; a message reaches only a running agent")
    agent_screen(eng, agent)  # NotFoundError before anything is typed or posted when the session is gone
    eng.runtime.paste(agent.session, text)
    tid = control_thread_id(agent.run_id, key)
    body = f"message typed into {key}'s session (attempt {agent.attempt}):\n{text}"
    try:
        eng.forum.post(tid, body, actor_type=actor_type, actor_name=actor_name)
    except NotFoundError:  # the agent has not signalled yet: its control thread starts with this message
        eng.forum.open_thread(agent.ticket, f"control: {key}", body, run_id=agent.run_id, agent_name=key,
                              thread_id=tid, actor_type=actor_type, actor_name=actor_name)
    return MessageSent(key, agent.session, tid, agent.attempt)
