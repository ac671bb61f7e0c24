"""Token usage and cost per agent attempt (table ``agent_usage``): a row when an AI agent's attempt starts,
its numbers replaced whenever they are read again from the CLI's own records (agents/usage.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metawsm.state.db import Database, now
from metawsm.state.models import _Record

USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
                "requests")


@dataclass(frozen=True)
class AttemptUsage(_Record):
    """A row of `agent_usage`: what one attempt of an agent used (tokens, cost)."""

    run_id: str
    ticket: str
    agent: str
    attempt: int
    cli: str
    cwd: str
    log: str | None
    started_at: float
    ended_at: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    requests: int
    cost_usd: float | None
    updated_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"started_at", "ended_at", "updated_at"})


class UsageMixin:
    db: Database

    def start_usage(self, run_id: str, ticket: str, agent: str, attempt: int, *, cli: str, cwd: str,
                    log: str | None, started_at: float) -> None:
        """The attempt's row, with no usage yet (a second call for the same attempt changes nothing)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO agent_usage (run_id, ticket, agent, attempt, cli, cwd, log, started_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, ticket, agent, int(attempt), cli, cwd, log, started_at, now()))

    def record_usage(self, run_id: str, ticket: str, agent: str, attempt: int, counts: dict[str, int],
                     cost_usd: float | None, *, ended_at: float | None = None) -> None:
        """Replace the attempt's numbers (read again in full from the CLI's records; never summed here)."""
        values = [max(0, int(counts.get(c, 0))) for c in USAGE_COUNTS]
        with self.db.write() as conn:
            conn.execute(
                "UPDATE agent_usage SET input_tokens = ?, output_tokens = ?, cache_read_tokens = ?,"
                " cache_write_tokens = ?, reasoning_tokens = ?, requests = ?, cost_usd = ?,"
                " ended_at = COALESCE(?, ended_at), updated_at = ?"
                " WHERE run_id = ? AND ticket = ? AND agent = ? AND attempt = ?",
                (*values, cost_usd, ended_at, now(), run_id, ticket, agent, int(attempt)))

    def get_usage(self, run_id: str, ticket: str, agent: str, attempt: int) -> AttemptUsage | None:
        rows = self.db.read("SELECT * FROM agent_usage WHERE run_id = ? AND ticket = ? AND agent = ? AND attempt = ?",
                            (run_id, ticket, agent, int(attempt)))
        return AttemptUsage.from_row(rows[0]) if rows else None

    def list_usage(self, run_id: str) -> list[AttemptUsage]:
        rows = self.db.read("SELECT * FROM agent_usage WHERE run_id = ? ORDER BY ticket, agent, attempt", (run_id,))
        return [AttemptUsage.from_row(r) for r in rows]
