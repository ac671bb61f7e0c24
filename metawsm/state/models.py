"""Frozen records read from state.db. Timestamps are epoch seconds here and ISO 8601 text in ``to_json()``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from metawsm.state.db import iso

_NAMES: dict[type, tuple[str, ...]] = {}  # field names per record class (dataclasses.fields() is slow per row)


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return names


class _Record:
    _time_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Any:
        keys = set(row.keys())
        return cls(**{name: row[name] for name in _names(cls) if name in keys})

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            data[name] = iso(value) if name in self._time_fields else value
        return data


@dataclass(frozen=True)
class Run(_Record):
    """A row of `runs`: one apply of a plan."""

    run_id: str
    plan_name: str
    plan_hash: str
    status: str
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    last_error: str | None
    graph_json: str

    _time_fields: ClassVar[frozenset[str]] = frozenset({"created_at", "updated_at", "started_at", "finished_at"})

    def to_json(self, *, with_graph: bool = False) -> dict[str, object]:
        data = super().to_json()
        if not with_graph:
            data.pop("graph_json")
        return data


@dataclass(frozen=True)
class Step(_Record):
    """A row of `steps`: one step of a run's graph, with its recorded fields."""

    run_id: str
    step_id: str
    kind: str
    ticket: str | None
    agent: str | None
    status: str
    definition_hash: str
    attempts: int
    last_error: str | None
    output_log: str | None
    started_at: float | None
    finished_at: float | None
    next_attempt_at: float | None
    fields_json: str
    created_at: float
    updated_at: float
    note: str | None = None  # why a running step waits (e.g. "queued: every ssh host is full (…)")

    _time_fields: ClassVar[frozenset[str]] = frozenset(
        {"started_at", "finished_at", "next_attempt_at", "created_at", "updated_at"}
    )


@dataclass(frozen=True)
class Agent(_Record):
    """A row of `agents`: one agent of a run's ticket, its attempt and health."""

    run_id: str
    ticket: str
    name: str
    profile: str
    status: str
    health: str | None
    attempt: int
    session: str
    pane_pid: int | None
    last_activity_at: float | None
    last_progress_at: float | None
    last_pane_hash: str | None
    exit_status: int | None
    stopped_by_user: bool
    created_at: float
    updated_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset(
        {"last_activity_at", "last_progress_at", "created_at", "updated_at"}
    )

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Agent:
        agent: Agent = super().from_row(row)
        object.__setattr__(agent, "stopped_by_user", bool(agent.stopped_by_user))
        return agent

    @property
    def entity_id(self) -> str:
        return f"{self.ticket}:{self.name}"


@dataclass(frozen=True)
class Transition(_Record):
    """A row of `transitions`: one recorded state change (the audit trail)."""

    id: int
    run_id: str
    entity: str
    entity_id: str
    from_state: str
    to_state: str
    reason: str
    at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"at"})


@dataclass(frozen=True)
class OperatorAgentState(_Record):
    """A row of `operator_agent_state`: the operator's persisted view of one agent (confirmations, restart budget)."""

    run_id: str
    ticket: str
    agent: str
    consecutive_unhealthy: int
    restart_attempts: int
    last_restart_at: float | None
    cooldown_until: float | None
    last_alert: str | None
    updated_at: float

    _time_fields: ClassVar[frozenset[str]] = frozenset({"last_restart_at", "cooldown_until", "updated_at"})


@dataclass(frozen=True)
class Lease(_Record):
    """A row of `leases`: who holds a run's reconcile lease, until when."""

    run_id: str
    holder_pid: int
    holder_host: str
    token: str
    acquired_at: float
    expires_at: float
    command: str = ""  # what holds it, e.g. "metawsm apply"

    _time_fields: ClassVar[frozenset[str]] = frozenset({"acquired_at", "expires_at"})
