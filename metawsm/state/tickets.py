"""Tickets: one lifecycle per ticket id of this repository, across runs (open → working → ready → closing →
merged; failed; abandoned), the close intents that make `metawsm close` a crash-safe transaction, and the
per-run record of closed tickets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from metawsm.errors import NotFoundError, StateError
from metawsm.state import audit
from metawsm.state.db import Database, Select, now
from metawsm.state.machines import TICKET_STATES, check_transition
from metawsm.state.models import _Record


@dataclass(frozen=True)
class ClosedTicket(_Record):
    """A row of `closed_tickets`: a ticket a run closed (merged) or abandoned."""

    run_id: str
    ticket: str
    strategy: str
    base_branch: str
    merged_sha: str
    closed_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"closed_at"})


@dataclass(frozen=True)
class TicketState(_Record):
    """A row of `tickets`: one ticket's state across runs (open ... merged)."""

    ticket: str
    status: str
    run_id: str | None
    plan_name: str | None
    reason: str
    merged_sha: str | None
    base_branch: str | None
    strategy: str | None
    created_at: float
    updated_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"created_at", "updated_at"})


@dataclass(frozen=True)
class CloseIntent(_Record):
    """What close is about to do in one repository, recorded before it touches git."""

    ticket: str
    repo: str
    run_id: str
    repo_root: str
    checkout: str | None  # where the base branch is checked out (None: nowhere, the ref is updated alone)
    strategy: str
    branch: str
    base_branch: str
    ticket_sha: str
    base_sha: str
    merge_sha: str  # the commit the base branch moves to (built before the intent is recorded)
    created_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"created_at"})


def _get(conn: sqlite3.Connection, ticket: str) -> TicketState | None:
    row = conn.execute("SELECT * FROM tickets WHERE ticket = ?", (ticket,)).fetchone()
    return TicketState.from_row(row) if row else None


def _move(conn: sqlite3.Connection, ticket: str, to: str, reason: str, run_id: str | None,
          plan_name: str | None, **extra: object) -> TicketState:
    at = now()
    current = _get(conn, ticket)
    if current is None:
        conn.execute("INSERT INTO tickets (ticket, status, run_id, plan_name, created_at, updated_at)"
                     " VALUES (?, 'open', ?, ?, ?, ?)", (ticket, run_id, plan_name, at, at))
        current = _get(conn, ticket)
        assert current is not None
    check_transition("ticket", ticket, current.status, to)
    merged_sha = extra.get("merged_sha", current.merged_sha if to == "merged" else None)
    conn.execute(
        "UPDATE tickets SET status = ?, run_id = ?, plan_name = ?, reason = ?, merged_sha = ?, base_branch = ?,"
        " strategy = ?, updated_at = ? WHERE ticket = ?",
        (to, run_id or current.run_id, plan_name or current.plan_name, reason, merged_sha,
         extra.get("base_branch", current.base_branch), extra.get("strategy", current.strategy), at, ticket))
    if current.status != to:
        audit.record(conn, run_id or current.run_id or "", "ticket", ticket, current.status, to, reason, at)
    result = _get(conn, ticket)
    assert result is not None
    return result


class TicketsMixin:
    db: Database

    def get_ticket(self, ticket: str) -> TicketState | None:
        rows = self.db.read("SELECT * FROM tickets WHERE ticket = ?", (ticket,))
        return TicketState.from_row(rows[0]) if rows else None

    def list_tickets(self, tickets: Iterable[str] | None = None, *, run_id: str | None = None,
                     statuses: Iterable[str] | None = None) -> list[TicketState]:
        q = Select("tickets").one_of("ticket", tickets).equal("run_id", run_id).one_of("status", statuses)
        if q.empty:
            return []
        sql, params = q.sql("ticket")
        return [TicketState.from_row(r) for r in self.db.read(sql, params)]

    def move_ticket(self, ticket: str, to: str, reason: str = "", *, run_id: str | None = None,
                    plan_name: str | None = None, expect: Sequence[str] | None = None) -> TicketState:
        """One legal step of the ticket machine (a new ticket starts `open`); illegal moves raise StateError and
        write nothing. `expect`: the move only happens from one of these states (checked in the transaction),
        else StateError. A self-move updates the reason and run only."""
        if to not in TICKET_STATES:
            check_transition("ticket", ticket, "?", to)
        with self.db.write() as conn:
            current = _get(conn, ticket)
            if expect is not None and (current.status if current else "open") not in expect:
                raise StateError(f"ticket {ticket} is {current.status if current else 'open'}, "
                                 f"not {' or '.join(expect)}")
            return _move(conn, ticket, to, reason, run_id, plan_name)

    def forget_tickets_of_run(self, run_id: str) -> None:
        """Tickets a vanished run was working on go back to `open` (merged/abandoned ones stay remembered)."""
        with self.db.write() as conn:
            rows = conn.execute("SELECT ticket, status FROM tickets WHERE run_id = ? AND status NOT IN"
                                " ('merged', 'abandoned', 'open')", (run_id,)).fetchall()
            for row in rows:
                path = {"failed": ["working", "open"], "ready": ["working", "open"],
                        "closing": ["ready", "working", "open"]}.get(row["status"], ["open"])
                for state in path:
                    _move(conn, row["ticket"], state, f"run {run_id} ended", None, None)

    # -- close intents -------------------------------------------------------------------
    def record_close_intents(self, run_id: str, ticket: str, intents: Sequence[CloseIntent]) -> TicketState:
        """Atomically: the ticket moves to `closing` and the intents are stored."""
        with self.db.write() as conn:
            current = _get(conn, ticket)
            if current is None or current.status not in ("ready", "closing"):
                raise StateError(f"ticket {ticket} is {current.status if current else 'open'}; only a ready "
                                 "ticket is closed")
            for i in intents:
                conn.execute(
                    "INSERT OR REPLACE INTO close_intents (ticket, repo, run_id, repo_root, checkout, strategy,"
                    " branch, base_branch, ticket_sha, base_sha, merge_sha, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (ticket, i.repo, run_id, i.repo_root, i.checkout, i.strategy, i.branch, i.base_branch,
                     i.ticket_sha, i.base_sha, i.merge_sha, i.created_at))
            return _move(conn, ticket, "closing", "close: merging", run_id, None)

    def close_intents(self, ticket: str) -> list[CloseIntent]:
        rows = self.db.read("SELECT * FROM close_intents WHERE ticket = ? ORDER BY repo", (ticket,))
        return [CloseIntent.from_row(r) for r in rows]

    def drop_close_intents(self, ticket: str, repos: Iterable[str] | None = None, *,
                           back_to: str | None = None, reason: str = "") -> None:
        """Forget intents (rolled back); with `back_to`, the ticket leaves `closing` in the same transaction."""
        with self.db.write() as conn:
            if repos is None:
                conn.execute("DELETE FROM close_intents WHERE ticket = ?", (ticket,))
            else:
                for repo in repos:
                    conn.execute("DELETE FROM close_intents WHERE ticket = ? AND repo = ?", (ticket, repo))
            current = _get(conn, ticket)
            if back_to and current is not None and current.status == "closing":
                _move(conn, ticket, back_to, reason, None, None)

    def mark_ticket_merged(self, run_id: str, ticket: str, strategy: str, base_branch: str,
                           merged_sha: str) -> TicketState:
        """Atomically: the ticket becomes `merged`, its intents are dropped, the run records it as closed."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO closed_tickets (run_id, ticket, strategy, base_branch, merged_sha, closed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", (run_id, ticket, strategy, base_branch, merged_sha, now()))
            conn.execute("DELETE FROM close_intents WHERE ticket = ?", (ticket,))
            current = _get(conn, ticket)
            if current is not None and current.status == "merged":
                return current
            if current is None or current.status != "closing":
                for state in {"open": ["working", "ready", "closing"], "working": ["ready", "closing"],
                              "failed": ["working", "ready", "closing"], "ready": ["closing"]}.get(
                        current.status if current else "open", []):
                    _move(conn, ticket, state, "close", run_id, None)
            return _move(conn, ticket, "merged", f"merged at {merged_sha[:12]}", run_id, None,
                         merged_sha=merged_sha, base_branch=base_branch, strategy=strategy)

    def mark_ticket_closed(self, run_id: str, ticket: str, strategy: str, base_branch: str,
                           merged_sha: str) -> ClosedTicket:
        self.mark_ticket_merged(run_id, ticket, strategy, base_branch, merged_sha)
        return self.closed_tickets(run_id)[ticket]

    def closed_tickets(self, run_id: str) -> dict[str, ClosedTicket]:
        rows = self.db.read("SELECT * FROM closed_tickets WHERE run_id = ? ORDER BY ticket", (run_id,))
        return {r["ticket"]: ClosedTicket.from_row(r) for r in rows}

    def require_ticket(self, ticket: str) -> TicketState:
        found = self.get_ticket(ticket)
        if found is None:
            raise NotFoundError(f"ticket {ticket} has no recorded state in this repository",
                                hint="`metawsm apply PLAN` starts work on it")
        return found
