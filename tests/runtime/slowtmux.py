"""A slow tmux client for the window wrapper's exit record (fault injection: a loaded machine, made certain).

The wrapper (runtime/tmux_args.py) records its command's exit code with `tmux set-option … @metawsm_exit`. This
client holds that one command back until the test releases it — `RELEASE/<ticket>-<attempt>` (the pane's
METAWSM_TICKET and METAWSM_ATTEMPT; `x-0` outside an agent session) or `RELEASE/all` — ignoring the hangup of a
respawn as a tmux client already connected does, then runs the real tmux and touches `RELEASE/<key>.done`. Every
other tmux command goes straight to the real tmux. A held record gives up after 60 s."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path


def write(folder: Path, release: Path) -> Path:
    """Write the client as `folder/tmux` (put `folder` first on PATH, or use it as a Tmux's tmux_bin)."""
    real = shutil.which("tmux")
    assert real is not None, "tmux is not installed"
    folder.mkdir(parents=True, exist_ok=True)
    release.mkdir(parents=True, exist_ok=True)
    script = folder / "tmux"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3 $5" = "set-option -p -t @metawsm_exit" ]; then\n'
        "  trap '' HUP\n"
        '  key="${METAWSM_TICKET:-x}-${METAWSM_ATTEMPT:-0}"\n'
        f'  n=0; while [ ! -e "{release}/$key" ] && [ ! -e "{release}/all" ] && [ "$n" -lt 1200 ]; do\n'
        "    sleep 0.05; n=$((n+1)); done\n"
        f'  "{real}" "$@"; s=$?; touch "{release}/$key.done"; exit "$s"\n'
        "fi\n"
        f'exec "{real}" "$@"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script
