"""Tmux.capture_many: many panes' screens in one chained call; vanished sessions are left out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from metawsm.runtime.tmux import Tmux

pytestmark = pytest.mark.tmux


def test_capture_many_returns_each_screen(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    names = [f"cap-{i}" for i in range(3)]
    for i, name in enumerate(names):
        tmux.ensure_session(name, tmp_path, {}, f"echo screen-{i}-text; sleep 60")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screens = tmux.capture_many([*names, "gone-session"], 50)
        if all(f"screen-{i}-text" in screens.get(n, "") for i, n in enumerate(names)):
            break
        time.sleep(0.1)
    assert set(screens) == set(names)
    for i, name in enumerate(names):
        assert f"screen-{i}-text" in screens[name]
        assert "@@metawsm" not in screens[name]
