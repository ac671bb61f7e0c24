"""Agent hooks → forum: what the CLIs report about themselves (Claude Code hooks SessionStart, Stop and
Notification; Codex's notify after each turn) becomes a post in the agent's control thread, so status comes
from the agent rather than from its screen: ``session started``, ``turn finished``, ``waiting for input``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from metawsm.agents.mcptools import AgentSession
from metawsm.errors import MetawsmError, NotFoundError

LABELS = {"session-start": "session started", "stop": "turn finished", "notification": "waiting for input",
          "codex": "turn finished"}
MAX_DETAIL = 500


def describe(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(label, detail) for a hook's JSON payload."""
    label = LABELS[kind]
    if kind == "codex" and payload.get("type") not in (None, "agent-turn-complete"):
        label = str(payload.get("type"))
    detail = str(payload.get("message") or payload.get("last-assistant-message") or payload.get("source") or "")
    return label, detail.strip()[:MAX_DETAIL]


def record(session: AgentSession, kind: str, payload: dict[str, Any]) -> str:
    """Post the event in the agent's control thread (opened like a signal would open it); its body."""
    from metawsm.config.project import Project
    from metawsm.forum import Forum
    from metawsm.forum.ids import control_thread_id
    from metawsm.forum.signals import CONTROL_BODY, CONTROL_TITLE

    label, detail = describe(kind, payload)
    body = f"agent event: {label} (attempt {session.attempt})" + (f": {detail}" if detail else "")
    forum = Forum(Project(session.home).forum_dir)
    key = session.key
    thread = control_thread_id(session.run, key)
    try:
        forum.post(thread, body, actor_type="agent", actor_name=key)
    except NotFoundError:
        with contextlib.suppress(MetawsmError):  # opened meanwhile by a signal: post to it
            forum.open_thread(session.ticket, CONTROL_TITLE.format(agent=key, run=session.run), CONTROL_BODY,
                              run_id=session.run, agent_name=key, actor_type="system", actor_name="metawsm",
                              thread_id=thread)
        forum.post(thread, body, actor_type="agent", actor_name=key)
    return body


def parse_payload(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"message": text.strip()[:MAX_DETAIL]}
    return data if isinstance(data, dict) else {}
