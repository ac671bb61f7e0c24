"""Steps of a run: upsert from the rendered graph, list, and move through the step state machine."""

from __future__ import annotations

import sqlite3

from metawsm.errors import NotFoundError
from metawsm.state import audit
from metawsm.state.db import Database, Select, now
from metawsm.state.machines import FINISHED_STEP_STATES, STEP_STATES, check_transition
from metawsm.state.models import Step


def _get(conn: sqlite3.Connection, run_id: str, step_id: str) -> Step:
    row = conn.execute("SELECT * FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id)).fetchone()
    if row is None:
        raise NotFoundError(f"step {step_id} of run {run_id} not found")
    return Step.from_row(row)


def _require_run(conn: sqlite3.Connection, run_id: str) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
        raise NotFoundError(f"run {run_id} not found")


class StepsMixin:
    db: Database

    def upsert_step(self, run_id: str, step_id: str, kind: str, ticket: str | None, agent: str | None,
                    definition_hash: str, fields_json: str = "{}") -> Step:
        """Insert a new step as ``pending``, or update an existing step's definition (its status is kept:
        re-running a finished step whose definition changed is the caller's ``transition_step(.., 'pending')``)."""
        at = now()
        with self.db.write() as conn:
            _require_run(conn, run_id)
            conn.execute(
                "INSERT INTO steps (run_id, step_id, kind, ticket, agent, status, definition_hash, fields_json,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)"
                " ON CONFLICT (run_id, step_id) DO UPDATE SET kind = excluded.kind, ticket = excluded.ticket,"
                " agent = excluded.agent, definition_hash = excluded.definition_hash,"
                " fields_json = excluded.fields_json, updated_at = excluded.updated_at",
                (run_id, step_id, kind, ticket, agent, definition_hash, fields_json, at, at),
            )
            return _get(conn, run_id, step_id)

    def set_step_definition(self, run_id: str, step_id: str, definition_hash: str,
                            fields_json: str | None = None) -> Step:
        """Change a step's definition hash (and fields) without touching its status."""
        with self.db.write() as conn:
            step = _get(conn, run_id, step_id)
            conn.execute(
                "UPDATE steps SET definition_hash = ?, fields_json = ?, updated_at = ?"
                " WHERE run_id = ? AND step_id = ?",
                (definition_hash, step.fields_json if fields_json is None else fields_json, now(),
                 run_id, step_id),
            )
            return _get(conn, run_id, step_id)

    def note_step(self, run_id: str, step_id: str, note: str | None) -> Step:
        """Say why a running step waits (None: it no longer does); written only when it changed, and cleared by
        the step's next transition."""
        with self.db.write() as conn:
            step = _get(conn, run_id, step_id)
            if step.note == note:
                return step
            conn.execute("UPDATE steps SET note = ? WHERE run_id = ? AND step_id = ?", (note, run_id, step_id))
            return _get(conn, run_id, step_id)

    def session_backends(self) -> list[str]:
        """The runtime backends other than local that recorded sessions name (steps record a backend only
        when it is not local), so commands serve those sessions wherever they live."""
        rows = self.db.read("SELECT DISTINCT json_extract(fields_json, '$.backend') FROM steps"
                            " WHERE kind IN ('session', 'agent') AND instr(fields_json, '\"backend\"') > 0")
        return sorted(str(row[0]) for row in rows if row[0])

    def get_step(self, run_id: str, step_id: str) -> Step:
        rows = self.db.read("SELECT * FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id))
        if not rows:
            raise NotFoundError(f"step {step_id} of run {run_id} not found")
        return Step.from_row(rows[0])

    def list_steps(self, run_id: str, *, statuses: list[str] | None = None) -> list[Step]:
        """Steps of a run in insertion order (the graph's order when upserted in topological order)."""
        q = Select("steps").equal("run_id", run_id).one_of("status", statuses)
        if q.empty:
            return []
        sql, params = q.sql("rowid")
        return [Step.from_row(r) for r in self.db.read(sql, params)]

    def transition_step(self, run_id: str, step_id: str, to: str, reason: str = "", *,
                        error: str | None = None, output_log: str | None = None,
                        next_attempt_at: float | None = None) -> Step:
        """Move a step; illegal moves raise StateError and write nothing.

        Entering ``running`` increments ``attempts`` and stamps ``started_at``; entering done/failed/skipped
        stamps ``finished_at``; entering ``pending`` (a re-run) resets attempts, times and the error.
        ``error`` sets last_error, ``output_log`` the log path; ``next_attempt_at`` (retry time, for
        ``failed``) is written on every transition, so leaving it out clears it."""
        entity_id = step_id
        if to not in STEP_STATES:
            check_transition("step", entity_id, "?", to)
        at = now()
        with self.db.write() as conn:
            step = _get(conn, run_id, step_id)
            check_transition("step", entity_id, step.status, to)
            if step.status == to:
                return step
            attempts, started, finished = step.attempts, step.started_at, step.finished_at
            last_error = step.last_error if error is None else error
            if to == "running":
                attempts, started, finished = attempts + 1, at, None
            elif to in FINISHED_STEP_STATES:
                finished = at
            elif to == "pending":
                attempts, started, finished = 0, None, None
                last_error = error
            if to == "done" and error is None:
                last_error = None
            conn.execute(
                "UPDATE steps SET status = ?, attempts = ?, started_at = ?, finished_at = ?, last_error = ?,"
                " output_log = ?, next_attempt_at = ?, note = NULL, updated_at = ? WHERE run_id = ? AND step_id = ?",
                (to, attempts, started, finished, last_error,
                 step.output_log if output_log is None else output_log, next_attempt_at, at, run_id, step_id),
            )
            audit.record(conn, run_id, "step", entity_id, step.status, to, reason, at)
            return _get(conn, run_id, step_id)
