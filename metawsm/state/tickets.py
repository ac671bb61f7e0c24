"""Tickets closed (merged) by `metawsm close`, per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metawsm.state.db import Database, now
from metawsm.state.models import _Record


@dataclass(frozen=True)
class ClosedTicket(_Record):
    run_id: str
    ticket: str
    strategy: str
    base_branch: str
    merged_sha: str
    closed_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"closed_at"})


class TicketsMixin:
    db: Database

    def mark_ticket_closed(self, run_id: str, ticket: str, strategy: str, base_branch: str,
                           merged_sha: str) -> ClosedTicket:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO closed_tickets (run_id, ticket, strategy, base_branch, merged_sha, closed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", (run_id, ticket, strategy, base_branch, merged_sha, now()))
        return self.closed_tickets(run_id)[ticket]

    def closed_tickets(self, run_id: str) -> dict[str, ClosedTicket]:
        rows = self.db.read("SELECT * FROM closed_tickets WHERE run_id = ? ORDER BY ticket", (run_id,))
        return {r["ticket"]: ClosedTicket.from_row(r) for r in rows}
