"""Agent hooks → forum: what the CLIs report about themselves (Claude Code hooks SessionStart, Stop and
Notification, UserPromptSubmit and PostToolUse; Codex's notify after each turn) becomes a post in the agent's
control thread, so status comes from the agent rather than from its screen: ``session started``, ``turn
started``, ``turn finished``, ``waiting for input`` and — after a tool call, only when the agent was waiting —
``working again``. Health reads them (engine/hookstate.py)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from metawsm.agents.mcptools import AgentSession
from metawsm.errors import MetawsmError, NotFoundError

LABELS = {"session-start": "session started", "prompt": "turn started", "stop": "turn finished",
          "notification": "waiting for input", "tool-used": "working again", "codex": "turn finished"}
WAITING = ("turn finished", "waiting for input")
MAX_DETAIL = 500


def describe(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(label, detail) for a hook's JSON payload."""
    label = LABELS[kind]
    if kind == "codex" and payload.get("type") not in (None, "agent-turn-complete"):
        label = str(payload.get("type"))
    detail = str(payload.get("message") or payload.get("last-assistant-message")  # Codex
                 or payload.get("last_assistant_message") or payload.get("source") or "")  # Claude Code
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
    flag = waiting_flag(Project(session.home).state_dir, session.run, session.ticket, session.agent)
    with contextlib.suppress(OSError):  # the flag only saves hook runs: without it every tool call reports
        if label in WAITING:
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.touch()
        else:
            flag.unlink(missing_ok=True)
    return body


def waiting_flag(state_dir: Path, run: str, ticket: str, agent: str) -> Path:
    """A file present while the agent waits for its user: the PostToolUse hook reports only then (plan/mcpargs.py
    builds the same path in the shell)."""
    return state_dir / "hooks" / f"{run}.{ticket}.{agent}.waiting"


def parse_payload(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"message": text.strip()[:MAX_DETAIL]}
    return data if isinstance(data, dict) else {}
