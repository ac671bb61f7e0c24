"""Token usage and cost in run snapshots: per attempt, per agent, per ticket and for the run.

Numbers come from state.db (agent_usage, written by the engine and the agents' hooks — agents/usagerec.py); an
attempt whose transcript log changed since its numbers were read is read again first (one stat per attempt),
so print mode's final cost line, written after the agent's last hook, still arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metawsm.state.db import iso

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.usage import AttemptUsage


@dataclass(frozen=True)
class UsageView:
    """Totals as the AI CLIs reported them; cost_usd is None when no CLI reported a cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def short(self) -> str:
        """``12.3k in · 456 out · $0.0123`` (for status and the UI)."""
        text = f"{_k(self.input_tokens + self.cache_read_tokens + self.cache_write_tokens)} in · " \
               f"{_k(self.output_tokens)} out"
        return text + (f" · ${self.cost_usd:.4f}" if self.cost_usd is not None else "")


@dataclass(frozen=True)
class AttemptUsageView(UsageView):
    attempt: int = 0
    cli: str = ""
    started_at: str | None = None
    ended_at: str | None = None


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def total(items: Iterable[UsageView]) -> UsageView | None:
    items = list(items)
    if not items:
        return None
    costs = [i.cost_usd for i in items if i.cost_usd is not None]
    sums = {name: sum(getattr(i, name) for i in items) for name in (
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
        "total_tokens", "requests")}
    return UsageView(**sums, cost_usd=round(sum(costs), 10) if costs else None)


def attempt_view(row: AttemptUsage) -> AttemptUsageView:
    return AttemptUsageView(
        row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens,
        row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens, row.requests,
        row.cost_usd, attempt=row.attempt, cli=row.cli, started_at=iso(row.started_at), ended_at=iso(row.ended_at))


def run_usage(eng: Engine, run_id: str) -> dict[tuple[str, str], list[AttemptUsageView]]:
    """(ticket, agent) -> its attempts' usage, oldest first; stale attempts read again from the CLIs' records."""
    from metawsm.agents.launch import session_env
    from metawsm.agents.usagerec import refresh, stale

    rows = eng.store.list_usage(run_id)
    stale_rows = [r for r in rows if stale(r)]
    if stale_rows:
        env = session_env({})
        for row in stale_rows:
            refresh(eng.store, env, row.run_id, row.ticket, row.agent, row.attempt)
        rows = eng.store.list_usage(run_id)
    found: dict[tuple[str, str], list[AttemptUsageView]] = {}
    for row in rows:
        found.setdefault((row.ticket, row.agent), []).append(attempt_view(row))
    return found
