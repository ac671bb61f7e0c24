"""Every ```sh runnable block in docs/*.md exits 0, run in order in a temp folder, as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```sh runnable\n(.*?)^```", re.S | re.M)


def runnable_docs() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))


def test_some_docs_have_runnable_blocks() -> None:
    assert "tutorial.md" in [p.name for p in runnable_docs()]


@pytest.mark.slow
@pytest.mark.parametrize("doc", runnable_docs(), ids=lambda p: p.name)
def test_runnable_blocks_exit_0(doc: Path, tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + "\n".join(BLOCK.findall(doc.read_text(encoding="utf-8")))
    tmux_dir = tmp_path / "tmux"  # a private tmux server even for the default socket name
    tmux_dir.mkdir()
    env = {**os.environ, "TMUX_TMPDIR": str(tmux_dir),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("TMUX", None)
    try:
        proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0, f"{doc.name}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    finally:
        for socket in ("metawsm",):
            subprocess.run(["tmux", "-L", socket, "kill-server"], env=env, capture_output=True)
