"""The transitions audit table: one row per legal state change, written in the changing transaction."""

from __future__ import annotations

import sqlite3

from metawsm.state.db import Database, Select
from metawsm.state.models import Transition


def record(conn: sqlite3.Connection, run_id: str, entity: str, entity_id: str, from_state: str,
           to_state: str, reason: str, at: float) -> None:
    conn.execute(
        "INSERT INTO transitions (run_id, entity, entity_id, from_state, to_state, reason, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, entity, entity_id, from_state, to_state, reason or "", at),
    )


class AuditMixin:
    db: Database

    def audit(self, run_id: str | None = None, *, entity: str | None = None,
              limit: int | None = 100, after_id: int | None = None) -> list[Transition]:
        """Transitions, newest first, optionally for one run and/or one entity kind, or newer than an id."""
        q = Select("transitions").equal("run_id", run_id).equal("entity", entity)
        if after_id is not None:
            q.where("id > ?", int(after_id))
        sql, params = q.sql("id DESC", limit)
        return [Transition.from_row(r) for r in self.db.read(sql, params)]
