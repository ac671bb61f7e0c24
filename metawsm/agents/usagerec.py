"""Recording an attempt's usage: read again from the CLI's records (agents/usage.py) and stored in state.db.

The engine records when an attempt starts (its worktree, transcript log and start time) and refreshes the numbers
when the attempt ends (completion, exit, failure, or the next attempt); run snapshots (`status`, `watch`, the API
and the web UI) refresh an attempt whose transcript log changed since — a working agent's usage grows as it
works, and print mode's final cost line, written after the completion signal, still arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from metawsm.agents import usage
from metawsm.errors import MetawsmError
from metawsm.state.store import StateStore
from metawsm.state.usage import AttemptUsage

log = logging.getLogger(__name__)


def refresh(store: StateStore, env: Mapping[str, str], run_id: str, ticket: str, agent: str, attempt: int, *,
            ended_at: float | None = None) -> usage.Usage | None:
    """Read the attempt's usage again and store it; None when the attempt has no usage row (no AI CLI)."""
    row = store.get_usage(run_id, ticket, agent, attempt)
    if row is None:
        return None
    following = store.get_usage(run_id, ticket, agent, attempt + 1)
    # the window ends where the next attempt starts — not when this one ended: a CLI that signalled completion
    # still finishes its turn (and print mode reports its cost) after metawsm saw the signal
    until = following.started_at if following is not None else None
    found = usage.read(row.cli, env, row.cwd, row.started_at, until, row.log)
    if found is None:
        return None
    counts = {name: getattr(found, name) for name in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                      "cache_write_tokens", "reasoning_tokens", "requests")}
    try:
        store.record_usage(run_id, ticket, agent, attempt, counts, found.cost_usd, ended_at=ended_at)
    except MetawsmError as exc:  # usage is a report: never the reason an agent or a hook fails
        log.warning("cannot record usage of %s/%s attempt %s: %s", ticket, agent, attempt, exc)
    return found


def stale(row: AttemptUsage) -> bool:
    """Whether the attempt's transcript log changed after its usage was last read (one stat)."""
    if not row.log:
        return False
    try:
        return Path(row.log).stat().st_mtime > row.updated_at
    except OSError:
        return False
