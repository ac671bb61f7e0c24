"""StateStore: the one object the rest of metawsm uses to read and change run state."""

from __future__ import annotations

from pathlib import Path

from metawsm.errors import StateError
from metawsm.state.agents import AgentsMixin
from metawsm.state.alerts import AlertsMixin
from metawsm.state.audit import AuditMixin
from metawsm.state.db import Database, now
from metawsm.state.lease import LeaseMixin
from metawsm.state.models import OperatorAgentState
from metawsm.state.runs import RunsMixin
from metawsm.state.steps import StepsMixin
from metawsm.state.tickets import TicketsMixin
from metawsm.state.tokens import TokensMixin
from metawsm.state.usage import UsageMixin

_OPERATOR_COLUMNS = ("consecutive_unhealthy", "restart_attempts", "last_restart_at", "cooldown_until",
                     "last_alert")


class StateStore(RunsMixin, StepsMixin, AgentsMixin, LeaseMixin, AuditMixin, TicketsMixin, AlertsMixin,
                 UsageMixin, TokensMixin):
    """state.db at ``path`` (created and migrated on open). Safe to use from several processes at once:
    WAL, a busy timeout, and BEGIN IMMEDIATE for every write; every transition is checked and audited in
    the transaction that writes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = Database(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return int(self.db.read("PRAGMA user_version")[0][0])

    # operator_agent_state: persisted supervision budget (used by the operator issue).
    def get_operator_state(self, run_id: str, ticket: str, agent: str) -> OperatorAgentState | None:
        rows = self.db.read(
            "SELECT * FROM operator_agent_state WHERE run_id = ? AND ticket = ? AND agent = ?",
            (run_id, ticket, agent),
        )
        return OperatorAgentState.from_row(rows[0]) if rows else None

    def put_operator_state(self, run_id: str, ticket: str, agent: str, **fields: object) -> OperatorAgentState:
        unknown = sorted(set(fields) - set(_OPERATOR_COLUMNS))
        if unknown:
            raise StateError(f"put_operator_state: cannot set {', '.join(unknown)}")
        current = self.get_operator_state(run_id, ticket, agent)
        values = {c: getattr(current, c) if current else (0 if c in _OPERATOR_COLUMNS[:2] else None)
                  for c in _OPERATOR_COLUMNS}
        values.update(fields)
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO operator_agent_state (run_id, ticket, agent, consecutive_unhealthy,"
                " restart_attempts, last_restart_at, cooldown_until, last_alert, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, ticket, agent, *(values[c] for c in _OPERATOR_COLUMNS), now()),
            )
        result = self.get_operator_state(run_id, ticket, agent)
        assert result is not None
        return result
