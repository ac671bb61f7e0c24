"""Completing what a Go metawsm client leaves out of a control signal: its payloads have no
`attempt` (→ the agent's current attempt in the run state) and its validations no `sha` (→ the HEAD
of the ticket's worktree when the signal arrives, which is what the Go metawsm's validation meant)."""

from __future__ import annotations

import contextlib
from typing import Any


def complete_payload(state: Any, run_id: str, ticket: str, agent_key: str, payload: dict[str, Any]
                     ) -> dict[str, Any]:
    """`payload` with `attempt` and (for a validation) `sha` filled in when missing."""
    if "attempt" in payload and (payload.get("control_type") != "validation" or "sha" in payload):
        return payload
    from metawsm.engine.context import Engine
    from metawsm.errors import NotFoundError

    eng = Engine.open(state.project, state.policy)
    try:
        known = eng.has_state()
        name = agent_key.split("/", 1)[1] if "/" in agent_key else agent_key
        if "attempt" not in payload:
            attempt = 1
            if known:
                with contextlib.suppress(NotFoundError):
                    attempt = max(eng.store.get_agent(run_id, ticket, name).attempt, 1)
            payload["attempt"] = attempt
        if payload.get("control_type") == "validation" and "sha" not in payload and known:
            sha = _worktree_head(eng, run_id, ticket)
            if sha:
                payload["sha"] = sha
    finally:
        eng.close()
    return payload


def _worktree_head(eng: Any, run_id: str, ticket: str) -> str | None:
    from metawsm.engine.health import workspace_paths
    from metawsm.errors import MetawsmError
    from metawsm.runtime.git import head_sha

    try:
        path = workspace_paths(eng.store.list_steps(run_id)).get(ticket)
        return head_sha(path) if path else None
    except (MetawsmError, OSError):
        return None
