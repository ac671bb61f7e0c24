"""Issue 15: forum text printed raw terminal escape sequences (OSC: set the title; CSI: clear the
screen) in `forum thread`. Text from the forum, tickets or agents is shown escaped, never obeyed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metawsm.output import Output

EVIL = "Deploy\x1b]0;pwned\x07 now\x1b[2J\x1b[H\x9b31m"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".metawsm").mkdir(parents=True)
    return root


def _run(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metawsm", *argv], cwd=home, capture_output=True, text=True,
                          env={**os.environ, "METAWSM_HOME": str(home), "TERM": "xterm-256color",
                               "FORCE_COLOR": "1"}, timeout=60)


def test_forum_text_is_escaped_in_every_human_view(home: Path) -> None:
    r = _run(home, "forum", "ask", "--ticket", "ABC-1", "--title", EVIL, "--body", EVIL, "--actor-type", "agent",
             "--actor-name", "bot", "--json")
    assert r.returncode == 0, r.stderr
    tid = json.loads(r.stdout)["thread"]["thread_id"]
    assert _run(home, "forum", "post", tid, "--body", "more " + EVIL, "--actor-type", "agent",
                "--actor-name", "bot").returncode == 0
    for argv in (("forum", "thread", tid), ("forum", "list"), ("forum", "search", "Deploy"),
                 ("forum", "watch", "--once")):
        r = _run(home, *argv)
        assert r.returncode == 0, r.stderr
        assert "\x1b]0;" not in r.stdout and "\x1b[2J" not in r.stdout and "\x9b" not in r.stdout, argv
        assert "\x07" not in r.stdout
        assert "\\x1b]0;pwned" in r.stdout or "\\x1b" in r.stdout, argv  # shown, not obeyed
    r = _run(home, "forum", "thread", tid, "--json")  # JSON keeps the text exactly
    assert json.loads(r.stdout)["thread"]["title"] == EVIL


def test_output_facade_escapes_console_text_and_messages() -> None:
    out, err = io.StringIO(), io.StringIO()
    o = Output(stdout=out, stderr=err, color=True)
    o.console.print("title: " + EVIL, style="bold")  # what status and watch render
    o.text(EVIL)
    o.raw(EVIL)
    o.error(EVIL)
    for text in (out.getvalue(), err.getvalue()):
        assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\x9b" not in text
