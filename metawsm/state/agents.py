"""Agents of a run: upsert, list, non-status updates, attempts, and the agent state machine."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from metawsm.errors import NotFoundError, StateError
from metawsm.state import audit
from metawsm.state.db import Database, Select, now
from metawsm.state.machines import AGENT_STATES, check_transition
from metawsm.state.models import Agent

#: Columns update_agent may write. Status goes through transition_agent, attempt through new_attempt.
UPDATABLE_AGENT_COLUMNS = frozenset({
    "profile", "health", "session", "pane_pid", "last_activity_at", "last_progress_at",
    "last_pane_hash", "exit_status", "stopped_by_user",
})


def _get(conn: sqlite3.Connection, run_id: str, ticket: str, name: str) -> Agent:
    row = conn.execute(
        "SELECT * FROM agents WHERE run_id = ? AND ticket = ? AND name = ?", (run_id, ticket, name)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"agent {ticket}:{name} of run {run_id} not found")
    return Agent.from_row(row)


class AgentsMixin:
    db: Database

    def upsert_agent(self, run_id: str, ticket: str, name: str, profile: str, session: str) -> Agent:
        """Insert a new agent as ``pending`` with attempt 0 (no attempt started yet), or update an existing
        agent's profile and session name (status and attempt are kept)."""
        at = now()
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise NotFoundError(f"run {run_id} not found")
            conn.execute(
                "INSERT INTO agents (run_id, ticket, name, profile, status, session, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
                " ON CONFLICT (run_id, ticket, name) DO UPDATE SET profile = excluded.profile,"
                " session = excluded.session, updated_at = excluded.updated_at",
                (run_id, ticket, name, profile, session, at, at),
            )
            return _get(conn, run_id, ticket, name)

    def get_agent(self, run_id: str, ticket: str, name: str) -> Agent:
        rows = self.db.read(
            "SELECT * FROM agents WHERE run_id = ? AND ticket = ? AND name = ?", (run_id, ticket, name)
        )
        if not rows:
            raise NotFoundError(f"agent {ticket}:{name} of run {run_id} not found")
        return Agent.from_row(rows[0])

    def list_agents(self, run_id: str | None = None, statuses: Iterable[str] | None = None) -> list[Agent]:
        q = Select("agents").equal("run_id", run_id).one_of("status", statuses)
        if q.empty:
            return []
        sql, params = q.sql("rowid")
        return [Agent.from_row(r) for r in self.db.read(sql, params)]

    def transition_agent(self, run_id: str, ticket: str, name: str, to: str, reason: str = "") -> Agent:
        """Move an agent; illegal moves raise StateError and write nothing. Entering ``running`` clears
        ``exit_status`` and ``stopped_by_user``."""
        entity_id = f"{ticket}:{name}"
        if to not in AGENT_STATES:
            check_transition("agent", entity_id, "?", to)
        at = now()
        with self.db.write() as conn:
            agent = _get(conn, run_id, ticket, name)
            check_transition("agent", entity_id, agent.status, to)
            if agent.status == to:
                return agent
            if to == "running":
                conn.execute(
                    "UPDATE agents SET status = ?, exit_status = NULL, stopped_by_user = 0, updated_at = ?"
                    " WHERE run_id = ? AND ticket = ? AND name = ?", (to, at, run_id, ticket, name))
            else:
                conn.execute(
                    "UPDATE agents SET status = ?, updated_at = ? WHERE run_id = ? AND ticket = ? AND name = ?",
                    (to, at, run_id, ticket, name))
            audit.record(conn, run_id, "agent", entity_id, agent.status, to, reason, at)
            return _get(conn, run_id, ticket, name)

    def update_agent(self, run_id: str, ticket: str, name: str, **fields: object) -> Agent:
        """Write non-status columns (see UPDATABLE_AGENT_COLUMNS); other names raise StateError."""
        unknown = sorted(set(fields) - UPDATABLE_AGENT_COLUMNS)
        if unknown:
            raise StateError(
                f"update_agent: cannot set {', '.join(unknown)}",
                hint=f"settable columns: {', '.join(sorted(UPDATABLE_AGENT_COLUMNS))}",
            )
        with self.db.write() as conn:
            _get(conn, run_id, ticket, name)
            if fields:
                # Column names come only from the whitelist above, never from caller strings.
                columns = [c for c in sorted(UPDATABLE_AGENT_COLUMNS) if c in fields]
                assignments = ", ".join(f"{c} = ?" for c in columns)
                values = [int(bool(fields[c])) if c == "stopped_by_user" else fields[c] for c in columns]
                conn.execute(
                    f"UPDATE agents SET {assignments}, updated_at = ? WHERE run_id = ? AND ticket = ? AND name = ?",
                    (*values, now(), run_id, ticket, name),
                )
            return _get(conn, run_id, ticket, name)

    def new_attempt(self, run_id: str, ticket: str, name: str) -> int:
        """Start a new attempt for an agent; returns its number (1 for the first start)."""
        with self.db.write() as conn:
            agent = _get(conn, run_id, ticket, name)
            attempt = agent.attempt + 1
            conn.execute(
                "UPDATE agents SET attempt = ?, exit_status = NULL, pane_pid = NULL, last_pane_hash = NULL,"
                " updated_at = ? WHERE run_id = ? AND ticket = ? AND name = ?",
                (attempt, now(), run_id, ticket, name),
            )
            return attempt
