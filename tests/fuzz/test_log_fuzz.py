"""Issue 15: the log reader against random byte corruption — it never raises, every valid event
that ends before the damage is still read, and the forum keeps reading and writing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metawsm.forum import Forum

pytestmark = pytest.mark.fuzz
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HUMAN = {"actor_type": "human", "actor_name": "me"}

DAMAGE = st.one_of(
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("delete"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
)


def _build(tmp: Path) -> tuple[Forum, bytes, list[str]]:
    forum = Forum(tmp / ".metawsm" / "state" / "forum", fsync="batch")
    t = forum.open_thread("ABC-1", "T", "first", **HUMAN)
    for i in range(6):
        forum.post(t.thread_id, f"post {i}", **HUMAN)
    forum.mark_seen(t.thread_id, "human", "me")
    forum.signal("r1", "ABC-1", "a", 1, "completion", summary="done")
    forum.shutdown()
    data = forum.log.path.read_bytes()
    ids = [e.event_id for e in forum.events(0, 1000)[0]]
    return forum, data, ids


@SETTINGS
@given(damage=DAMAGE)
def test_random_corruption_never_loses_earlier_events(tmp_path_factory: pytest.TempPathFactory,
                                                      damage: tuple[str, float, bytes]) -> None:
    forum, data, ids = _build(tmp_path_factory.mktemp("log"))
    kind, where, junk = damage
    at = min(int(where * len(data)), len(data) - 1)
    if kind == "overwrite":
        damaged = data[:at] + junk + data[at + len(junk):]
    elif kind == "insert":
        damaged = data[:at] + junk + data[at:]
    elif kind == "delete":
        damaged = data[:at] + data[at + len(junk):]
    else:
        damaged = data[:at]
    forum.log.path.write_bytes(damaged)
    forum.index.path.unlink()
    intact = data[:at].count(b"\n")  # lines that end before the damage
    f = Forum(forum.dir, fsync="batch")
    try:
        count, _problems = f.log.scan()  # never raises
        read = [e.event_id for e in f.events(0, 1000)[0]]
        assert read[:intact] == ids[:intact]
        assert count == len(read)
        f.list_threads()
        f.open_thread("ABC-2", "after", "the damage", **HUMAN)  # writes go on
        assert f.reindex() == len(read) + 1
    finally:
        f.shutdown()
