"""Table-driven: every allowed run/step/agent/ticket transition is written and audited; refused ones write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.errors import StateError
from metawsm.state.tickets import TicketState
from metawsm.state import (
    AGENT_STATES,
    AGENT_TRANSITIONS,
    RUN_STATES,
    RUN_TRANSITIONS,
    STEP_STATES,
    STEP_TRANSITIONS,
    TICKET_STATES,
    TICKET_TRANSITIONS,
    Agent,
    Run,
    StateStore,
    Step,
    check_transition,
)


class Case(NamedTuple):
    entity: str
    from_state: str
    to_state: str


def _allowed(entity: str, table: dict[str, frozenset[str]]) -> list[Case]:
    return [Case(entity, f, t) for f, tos in table.items() for t in sorted(tos)]


def _refused(entity: str, states: tuple[str, ...], table: dict[str, frozenset[str]]) -> list[Case]:
    return [Case(entity, f, t) for f in states for t in states if f != t and t not in table.get(f, ())]


ALLOWED = (_allowed("run", RUN_TRANSITIONS) + _allowed("step", STEP_TRANSITIONS)  # type: ignore[arg-type]
           + _allowed("agent", AGENT_TRANSITIONS) + _allowed("ticket", TICKET_TRANSITIONS))  # type: ignore[arg-type]
REFUSED = (_refused("run", RUN_STATES, RUN_TRANSITIONS)  # type: ignore[arg-type]
           + _refused("step", STEP_STATES, STEP_TRANSITIONS)  # type: ignore[arg-type]
           + _refused("agent", AGENT_STATES, AGENT_TRANSITIONS)  # type: ignore[arg-type]
           + _refused("ticket", TICKET_STATES, TICKET_TRANSITIONS))  # type: ignore[arg-type]


def _ids(case: Case) -> str:
    return f"{case.entity}:{case.from_state}->{case.to_state}"


def test_tables_match_design() -> None:
    # any run not over may end (cleanup) or close (every ticket merged or abandoned)
    assert RUN_TRANSITIONS["running"] == {"awaiting_guidance", "paused", "failed", "complete", "stopping", "ended",
                                          "closed"}
    assert RUN_TRANSITIONS["closed"] == frozenset() and RUN_TRANSITIONS["ended"] == frozenset()
    assert STEP_TRANSITIONS["done"] == {"pending"}
    assert AGENT_TRANSITIONS["dead"] == {"running"}
    assert TICKET_TRANSITIONS["merged"] == {"open"} and TICKET_TRANSITIONS["failed"] == {"working", "abandoned"}
    assert "in_review" in TICKET_TRANSITIONS["ready"] and TICKET_TRANSITIONS["in_review"] == {
        "merged", "ready", "closing", "working", "open", "abandoned"}  # pr --sync, close, iterate, forget, abandon
    assert len(ALLOWED) == 25 + 2 * 10 - 1 + 8 + 19 + 25  # run: +ended/closed from the 10 states not over
    for table, states in ((RUN_TRANSITIONS, RUN_STATES), (STEP_TRANSITIONS, STEP_STATES),
                          (AGENT_TRANSITIONS, AGENT_STATES), (TICKET_TRANSITIONS, TICKET_STATES)):
        assert set(table) == set(states)
        assert all(tos <= set(states) for tos in table.values())


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    s.create_run("r1", "plan", "h1", "{}")
    s.upsert_step("r1", "workspace:T1", "workspace", "T1", None, "d1", "{}")
    s.upsert_agent("r1", "T1", "a", "shell", "mw-r1-T1-a")
    s.move_ticket("T1", "open", run_id="r1")
    return s


def _force(store: StateStore, case: Case) -> None:
    """Put the entity into the case's from-state directly (test setup only)."""
    table, where, params = {
        "run": ("runs", "run_id = ?", ("r1",)),
        "step": ("steps", "run_id = ? AND step_id = ?", ("r1", "workspace:T1")),
        "agent": ("agents", "run_id = ? AND ticket = ? AND name = ?", ("r1", "T1", "a")),
        "ticket": ("tickets", "ticket = ?", ("T1",)),
    }[case.entity]
    store.db.conn.execute(f"UPDATE {table} SET status = ? WHERE {where}", (case.from_state, *params))


def _status(store: StateStore, entity: str) -> str:
    if entity == "run":
        return store.get_run("r1").status
    if entity == "step":
        return store.get_step("r1", "workspace:T1").status
    if entity == "ticket":
        return store.require_ticket("T1").status
    return store.get_agent("r1", "T1", "a").status


def _transition(store: StateStore, case: Case) -> Run | Step | Agent | TicketState:
    if case.entity == "ticket":
        return store.move_ticket("T1", case.to_state, "test")
    if case.entity == "run":
        return store.transition_run("r1", case.to_state, "test")
    if case.entity == "step":
        return store.transition_step("r1", "workspace:T1", case.to_state, "test")
    return store.transition_agent("r1", "T1", "a", case.to_state, "test")


@pytest.mark.parametrize("case", ALLOWED, ids=_ids)
def test_allowed_transition_is_written_and_audited(store: StateStore, case: Case) -> None:
    _force(store, case)
    before = len(store.audit("r1", limit=None))
    result = _transition(store, case)
    assert result.status == case.to_state
    assert _status(store, case.entity) == case.to_state
    rows = store.audit("r1", limit=None)
    assert len(rows) == before + 1
    last = rows[0]
    assert (last.entity, last.from_state, last.to_state, last.reason) == (
        case.entity, case.from_state, case.to_state, "test")


@pytest.mark.parametrize("case", REFUSED, ids=_ids)
def test_refused_transition_writes_nothing(store: StateStore, case: Case) -> None:
    _force(store, case)
    before = store.audit("r1", limit=None)
    with pytest.raises(StateError) as info:
        _transition(store, case)
    message = info.value.message
    assert case.entity in message and f"{case.from_state} -> {case.to_state}" in message
    assert _status(store, case.entity) == case.from_state
    assert store.audit("r1", limit=None) == before


@pytest.mark.parametrize("entity,state", [("run", s) for s in RUN_STATES] + [("step", s) for s in STEP_STATES]
                         + [("agent", s) for s in AGENT_STATES] + [("ticket", s) for s in TICKET_STATES])
def test_self_transition_is_a_noop(store: StateStore, entity: str, state: str) -> None:
    case = Case(entity, state, state)
    _force(store, case)
    _transition(store, case)
    assert _status(store, entity) == state
    assert [t for t in store.audit("r1", limit=None) if t.reason == "test"] == []


@pytest.mark.parametrize("entity", ["run", "step", "agent", "ticket"])
def test_unknown_state_is_refused(store: StateStore, entity: str) -> None:
    with pytest.raises(StateError, match="unknown state 'bogus'"):
        _transition(store, Case(entity, "", "bogus"))
    with pytest.raises(StateError, match="unknown state"):
        check_transition(entity, "x", "pending", "bogus")
