"""Runs: create, read, list, and move through the run state machine."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from metawsm.errors import NotFoundError, StateError
from metawsm.state import audit
from metawsm.state.db import Database, Select, now
from metawsm.state.machines import ACTIVE_RUN_STATES, FINISHED_RUN_STATES, RUN_STATES, check_transition
from metawsm.state.models import Run
from metawsm.state.tokens import revoke_run_tokens

#: Entering these, a run's agent tokens are revoked: it ended, or its agents were stopped (a resumed or
#: restarted agent is given a new token when it starts).
TOKEN_REVOKING_STATES = frozenset({"stopped", "closed", "ended"})


def _get(conn: sqlite3.Connection, run_id: str) -> Run:
    row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"run {run_id} not found")
    return Run.from_row(row)


class RunsMixin:
    db: Database

    def create_run(self, run_id: str, plan_name: str, plan_hash: str, graph_json: str) -> Run:
        """A new run in status ``created``. An existing id raises StateError."""
        at = now()
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise StateError(f"run {run_id} already exists")
            other = conn.execute(
                "SELECT run_id, status FROM runs WHERE plan_name = ? AND status NOT IN ('closed', 'ended')",
                (plan_name,)).fetchone()
            if other is not None:  # the unique index runs_one_active would refuse it anyway
                raise StateError(f"plan {plan_name} already has an active run: {other['run_id']} ({other['status']})",
                                 hint="`metawsm apply` continues it; `metawsm cleanup --run "
                                      f"{other['run_id']}` ends it")
            conn.execute(
                "INSERT INTO runs (run_id, plan_name, plan_hash, status, created_at, updated_at, graph_json)"
                " VALUES (?, ?, ?, 'created', ?, ?, ?)",
                (run_id, plan_name, plan_hash, at, at, graph_json),
            )
            return _get(conn, run_id)

    def get_run(self, run_id: str) -> Run:
        rows = self.db.read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise NotFoundError(f"run {run_id} not found")
        return Run.from_row(rows[0])

    def list_runs(self, status_in: Iterable[str] | None = None, plan_name: str | None = None,
                  ticket: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs, newest first. ``ticket`` matches runs having a step or an agent for that ticket."""
        q = Select("runs").one_of("status", status_in).equal("plan_name", plan_name)
        if ticket is not None:
            q.where("(run_id IN (SELECT run_id FROM steps WHERE ticket = ?)"
                    " OR run_id IN (SELECT run_id FROM agents WHERE ticket = ?))", ticket, ticket)
        if q.empty:
            return []
        sql, params = q.sql("created_at DESC, rowid DESC", limit)
        return [Run.from_row(r) for r in self.db.read(sql, params)]

    def active_run_for_plan(self, plan_name: str) -> Run | None:
        """The plan's one run whose status is in ACTIVE_RUN_STATES (anything but closed and ended), or None."""
        runs = self.list_runs(status_in=sorted(ACTIVE_RUN_STATES), plan_name=plan_name, limit=1)
        return runs[0] if runs else None

    def transition_run(self, run_id: str, to: str, reason: str = "", *, error: str | None = None) -> Run:
        """Move a run; illegal moves raise StateError and write nothing. ``error`` sets last_error
        (entering ``running`` clears it). ``started_at`` is stamped on first entering running,
        ``finished_at`` on entering complete/failed/stopped/closed and cleared on entering running."""
        if to not in RUN_STATES:
            check_transition("run", run_id, "?", to)
        at = now()
        with self.db.write() as conn:
            run = _get(conn, run_id)
            check_transition("run", run_id, run.status, to)
            if run.status == to:
                return run
            started = run.started_at if run.started_at is not None or to != "running" else at
            finished = at if to in FINISHED_RUN_STATES else (None if to == "running" else run.finished_at)
            last_error = error if error is not None else (None if to == "running" else run.last_error)
            conn.execute(
                "UPDATE runs SET status = ?, updated_at = ?, started_at = ?, finished_at = ?, last_error = ?"
                " WHERE run_id = ?",
                (to, at, started, finished, last_error, run_id),
            )
            audit.record(conn, run_id, "run", run_id, run.status, to, reason, at)
            if to in TOKEN_REVOKING_STATES:  # its agents' daemon tokens die with it (state/tokens.py)
                revoke_run_tokens(conn, run_id, at)
            return _get(conn, run_id)

    def update_run_graph(self, run_id: str, plan_hash: str, graph_json: str) -> Run:
        """Record a new plan hash and step graph for a run (after ``apply`` of a changed plan)."""
        with self.db.write() as conn:
            _get(conn, run_id)
            conn.execute(
                "UPDATE runs SET plan_hash = ?, graph_json = ?, updated_at = ? WHERE run_id = ?",
                (plan_hash, graph_json, now(), run_id),
            )
            return _get(conn, run_id)

    def forget_run(self, run_id: str) -> Run:
        """Drop every record of a run (steps, agents, audit, operator budget, lease, close records, usage) in one
        transaction; the tickets it worked on go back to `open` (merged ones stay merged). Touches no git/tmux."""
        with self.db.write() as conn:
            run = _get(conn, run_id)
            for table in ("steps", "agents", "transitions", "operator_agent_state", "leases", "closed_tickets",
                          "close_intents", "agent_usage", "agent_tokens"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))  # table names from code
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            return run
