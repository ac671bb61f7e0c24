"""Regression (a random schemathesis seed, `GET /api/v1/forum/search?query=%00%C2%80` answered 500): a NUL in a
search query matches nothing and never reaches FTS5 as an unterminated string."""

from __future__ import annotations

from metawsm.forum import Forum


def test_a_nul_in_the_query_is_no_error(forum: Forum) -> None:
    forum.open_thread("T-1", "database migration", "body", actor_type="human", actor_name="me")
    assert forum.search("\x00\x80") == []
    assert forum.search('"\x00') == []
    assert [t.title for t in forum.search("data\x00base")] == []
    assert [t.title for t in forum.search("\x00database")] == ["database migration"]
