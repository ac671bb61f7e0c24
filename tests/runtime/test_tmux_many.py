"""Batched tmux calls: start_many and respawn_many stay under tmux's 16 KiB command limit and use few calls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from metawsm.runtime.tmux import _BATCH_BYTES, SessionSpec, Tmux, _chunks

pytestmark = pytest.mark.tmux

BIG_ENV = {f"METAWSM_VAR_{i}": "v" * 120 for i in range(6)}  # ~800 bytes of -e arguments per session


def counting(tmux: Tmux, monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    real = tmux.server.cmd

    def wrapper(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tmux.server, "cmd", wrapper)
    return calls


def test_chunks_respect_count_and_bytes() -> None:
    parts = [["x" * 999] for _ in range(50)]  # 1,000 bytes each (+2 for the ';')
    groups = _chunks(parts)
    assert [i for g in groups for i in g] == list(range(50))
    assert all(len(g) <= 20 and sum(len(parts[i][0]) + 3 for i in g) <= _BATCH_BYTES for g in groups)
    assert len(groups) == 5
    assert _chunks([["a"]] * 45) == [list(range(0, 20)), list(range(20, 40)), list(range(40, 45))]
    assert _chunks([["y" * 20_000], ["a"]]) == [[0], [1]]  # an over-long part stands alone
    assert _chunks([]) == []


def test_start_many_with_large_environments_never_falls_back(tmux_socket: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    tmux = Tmux(tmux_socket)
    calls = counting(tmux, monkeypatch)
    specs = [SessionSpec(f"big-{i:02d}", str(tmp_path), BIG_ENV, "sleep 30") for i in range(30)]
    infos = tmux.start_many(specs)
    assert all(i.created and i.pane_pid for i in infos)
    new_session_calls = [c for c in calls if c[0] == "new-session"]
    assert all(sum(len(str(a)) + 1 for a in c) < 16_000 for c in new_session_calls)
    assert len(calls) == 1 + len(new_session_calls) <= 1 + 10  # one snapshot, a few chained batches
    assert sum(c.count("new-session") for c in new_session_calls) == 30  # no batch failed, none retried
    assert sorted(tmux.snapshot()) == [s.name for s in specs]


def test_respawn_many_chains_and_skips_a_failing_session(tmux_socket: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tmux = Tmux(tmux_socket)
    names = [f"re-{i:02d}" for i in range(25)]
    tmux.start_many([SessionSpec(n, str(tmp_path), {}, "exec sleep 300") for n in names])
    calls = counting(tmux, monkeypatch)
    specs = [SessionSpec(n, str(tmp_path), {**BIG_ENV, "NAME": n}, 'echo "$NAME" > "$NAME.out"; sleep 30')
             for n in names]
    specs.insert(5, SessionSpec("missing", str(tmp_path), {}, "sleep 1"))
    pids = tmux.respawn_many(specs)
    assert sorted(pids) == names  # the missing session is left out, every other one respawned
    assert len(calls) <= 6
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all((tmp_path / f"{n}.out").exists() for n in names):
        time.sleep(0.05)
    assert all((tmp_path / f"{n}.out").read_text().strip() == n for n in names)
    snap = tmux.snapshot()
    assert all(snap[n].pane_pid == pids[n] and not snap[n].pane_dead for n in names)
    assert tmux.respawn_many([]) == {}
