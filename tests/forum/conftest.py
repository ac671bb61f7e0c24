from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from metawsm.forum import Forum
from metawsm.forum.schema_sql import TABLES


@pytest.fixture
def forum_dir(tmp_path: Path) -> Path:
    return tmp_path / ".metawsm" / "state" / "forum"


@pytest.fixture
def forum(forum_dir: Path) -> Forum:
    f = Forum(forum_dir, fsync="batch")
    yield f
    f.shutdown()


def _dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every index table, in a stable order."""
    conn = sqlite3.connect(db)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        conn.close()


@pytest.fixture
def dump():
    return _dump
