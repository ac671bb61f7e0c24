"""Runtime.screen (visible rows with colours, size, cursor) and Runtime.paste (bracketed paste) on real tmux."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from metawsm.errors import ExternalError, UsageError
from metawsm.runtime.base import ForeignSession, SessionSpec
from metawsm.runtime.tmux_screen import MAX_PASTE_BYTES
from tests.runtime.test_runtime import runtime, wait_for

pytestmark = pytest.mark.tmux

# Turns on bracketed paste mode, then records the raw bytes it reads until a paste has ended and Enter came.
READER = """
import os, sys, tty
tty.setraw(0)
os.write(1, b"\\x1b[?2004hready\\r\\n")
data = b""
while not (b"\\x1b[201~" in data and data.endswith(b"\\r")):
    data += os.read(0, 4096)
open(sys.argv[1] + ".part", "wb").write(data)
os.replace(sys.argv[1] + ".part", sys.argv[1])  # the file appears whole: the test waits for it to exist
os.write(1, b"got it\\r\\n")
"""


def test_screen_keeps_colours_and_reports_size_and_cursor(tmux_socket: str, tmp_path: Path) -> None:
    rt = runtime(tmux_socket, "aaaa1111")
    rt.create(SessionSpec("s1", str(tmp_path), {}, "printf '\\033[31mRED\\033[0m plain\\n'; printf 'x'; sleep 30"))
    wait_for(lambda: "plain" in rt.screen("s1").text)
    screen = rt.screen("s1")
    assert "\x1b[31mRED" in screen.text and screen.text.splitlines()[1] == "x"
    assert (screen.width, screen.height) == (80, 24) and (screen.cursor_x, screen.cursor_y) == (1, 1)
    assert rt.screen("s1", ansi=False).text == "RED plain\nx"
    assert screen.to_json()["width"] == 80


def test_screen_of_a_gone_session_is_an_error(tmux_socket: str, tmp_path: Path) -> None:
    rt = runtime(tmux_socket, "aaaa1111")
    rt.create(SessionSpec("s1", str(tmp_path), {}, "sleep 30"))
    with pytest.raises(ExternalError, match="cannot capture the screen of session 'nope'"):
        rt.screen("nope")


def test_paste_is_one_bracketed_paste_then_enter(tmux_socket: str, tmp_path: Path) -> None:
    rt = runtime(tmux_socket, "aaaa1111")
    (tmp_path / "reader.py").write_text(READER, encoding="utf-8")
    got = tmp_path / "got.bin"
    rt.create(SessionSpec("s1", str(tmp_path), {}, f"{sys.executable} reader.py {got}"))
    wait_for(lambda: "ready" in rt.screen("s1").text)
    rt.paste("s1", "first line\nsecond; $(rm -rf x) 'q'")
    wait_for(got.exists)
    assert got.read_bytes() == b"\x1b[200~first line\rsecond; $(rm -rf x) 'q'\x1b[201~\r"


def test_paste_is_bounded_and_refuses_foreign_sessions(tmux_socket: str, tmp_path: Path) -> None:
    mine, theirs = runtime(tmux_socket, "aaaa1111"), runtime(tmux_socket, "bbbb2222")
    theirs.create(SessionSpec("s1", str(tmp_path), {}, "sleep 30"))
    with pytest.raises(ForeignSession):
        mine.paste("s1", "hello")
    with pytest.raises(UsageError, match=f"at most {MAX_PASTE_BYTES}"):
        theirs.paste("s1", "x" * (MAX_PASTE_BYTES + 1))
