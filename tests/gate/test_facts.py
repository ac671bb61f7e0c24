"""The gate's reader (gate/facts.py) against the owners of what it reads: the same versions and agent keys as
the state store and the forum, the same fold of control signals as the forum's reducer, and an index brought
level with the log (by the forum service) before it is read — on real SQLite files written by the real store
and forum."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.forum import Forum
from metawsm.forum.ids import agent_key
from metawsm.forum.schema_sql import VERSION as FORUM_INDEX_VERSION
from metawsm.gate import facts
from metawsm.state import StateStore
from metawsm.state.db import SCHEMA_VERSION


def test_versions_and_agent_keys_are_their_owners() -> None:
    assert facts.STATE_VERSION == SCHEMA_VERSION
    assert facts.INDEX_VERSION == FORUM_INDEX_VERSION
    for ticket, agent in (("DEMO-1", "writer"), ("T-2", "checks"), ("T-3", "OTHER-1/impl"), ("A-1", "a/b/c")):
        assert facts.agent_key(ticket, agent) == agent_key(ticket, agent)


class Sig(NamedTuple):
    agent: str
    attempt: int
    kind: str
    fields: dict[str, str]
    actor: tuple[str, str | None] = ("agent", None)


SIGNALS = [
    Sig("w", 1, "completion", {"summary": "done"}),
    Sig("w", 1, "validation", {"status": "failed", "done_criteria": "d", "sha": "a" * 40}),
    Sig("w", 2, "guidance_request", {"question": "which?"}),
    Sig("w", 2, "validation", {"status": "passed", "done_criteria": "d", "sha": "b" * 40}),
    Sig("w", 2, "validation", {"status": "failed", "done_criteria": "e", "sha": "c" * 40}),
    Sig("rev", 1, "review", {"status": "changes_requested", "sha": "b" * 40, "note": "more tests"}),
    Sig("rev", 1, "completion", {"summary": "reviewed"}),
    Sig("rev", 1, "review", {"status": "approved", "sha": "c" * 40}),
    Sig("checks", 1, "validation", {"status": "passed", "done_criteria": "x", "sha": "b" * 40},
        ("system", "metawsm")),
    Sig("checks", 2, "validation", {"status": "failed", "done_criteria": "x", "sha": "c" * 40},
        ("system", "metawsm")),
]


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, Forum]:
    state_dir = tmp_path / ".metawsm" / "state"
    with StateStore(state_dir / "state.db") as store:
        store.create_run("r1", "p", "h", graph_json="{}")
        for name in ("w", "rev"):
            store.upsert_agent("r1", "T-1", name, "shell", f"s-{name}")
    forum = Forum(state_dir / "forum", fsync="batch")
    for s in SIGNALS:
        forum.signal("r1", "T-1", f"T-1/{s.agent}", s.attempt, s.kind, actor_type=s.actor[0],
                     actor_name=s.actor[1], **s.fields)
    return state_dir, forum


def test_the_fold_is_the_forums(state: tuple[Path, Forum]) -> None:
    state_dir, forum = state
    reader = facts.Reader(str(state_dir), migrate=lambda: None, catch_up=lambda: forum.read(lambda c: None))
    found = facts.TicketFacts("r1", "T-1", "", "", [])
    found.agents = [("w", 2), ("rev", 1)]
    reader._read_signals(found)
    reader.close()
    assert found.checks_attempt == forum.latest_attempt("r1", "T-1/checks") == 2
    pairs = {(f"T-1/{s.agent}", s.attempt) for s in SIGNALS}
    assert set(found.signals) == {p for p in pairs if forum.control_state(*(("r1", *p))).completion
                                  or forum.control_state("r1", *p).validation or forum.control_state("r1", *p).review}
    for key, attempt in pairs:
        theirs = forum.control_state("r1", key, attempt)
        mine = found.signals.get((key, attempt))
        assert (mine.completion if mine else None) == (theirs.completion[1] if theirs.completion else None)
        assert (mine.validation if mine else None) == theirs.validation
        if theirs.review is None:
            assert mine is None or mine.review is None
        else:
            assert mine is not None and mine.review == dict(theirs.review, note=theirs.review["note"] or "")
    validations = [seq for s in found.signals.values() if s.validation for seq in [s.validation["sequence"]]]
    events, _ = forum.events(0, 1000)
    assert found.actors == {e.sequence: (e.actor_type, e.actor_name) for e in events if e.sequence in validations}


def test_an_index_behind_the_log_is_caught_up_before_it_is_read(state: tuple[Path, Forum]) -> None:
    state_dir, forum = state
    calls = []

    def catch_up() -> None:
        calls.append(1)
        forum.read(lambda c: None)

    def read() -> facts.TicketFacts:
        reader = facts.Reader(str(state_dir), migrate=lambda: None, catch_up=catch_up)
        try:
            return reader.ticket("r1", "T-1")
        finally:
            reader.close()

    assert read().state("w", 2) is not None and calls == []  # level with the log: read as it is
    (state_dir / "forum.db").unlink()  # a cache any command may delete (DESIGN §6)
    for suffix in ("-wal", "-shm"):
        (state_dir / f"forum.db{suffix}").unlink(missing_ok=True)
    forum.shutdown()
    with (state_dir / "forum" / "events.jsonl").open("rb") as fh:
        assert fh.read()  # the log is still there
    forum = Forum(state_dir / "forum", fsync="batch")
    got = read()
    assert calls == [1] and got.state("rev", 1) is not None and got.state("rev", 1).review["status"] == "approved"


def test_a_ticket_without_a_workspace_step_says_so(state: tuple[Path, Forum]) -> None:
    state_dir, forum = state
    reader = facts.Reader(str(state_dir), migrate=lambda: None, catch_up=lambda: forum.read(lambda c: None))
    try:
        got = reader.ticket("r1", "T-1")
        assert not got.has_workspace and got.agents == [("w", 0), ("rev", 0)]
        assert reader.runs_of("T-1") == [("r1", "created")] and reader.runs_of("T-2") == []
    finally:
        reader.close()
