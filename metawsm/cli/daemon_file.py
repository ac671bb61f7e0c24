"""Where a running `metawsm serve` can be reached: `serve` records its web UI's address in
`.metawsm/state/serve.json` (with its pid) and removes it when it stops, so `metawsm ask` can print a link
that answers the question in the browser. A record whose process is gone is ignored. Stdlib only: `ask`
runs inside agents."""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "serve.json"


def record(state_dir: Path, ui_url: str) -> Path:
    path = state_dir / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    tmp.write_text(json.dumps({"ui_url": ui_url, "pid": os.getpid()}) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def forget(state_dir: Path) -> None:
    """Remove the record if it is this process's (another daemon may have replaced it)."""
    path = state_dir / FILE
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def live_ui_url(state_dir: Path) -> str | None:
    """The web UI address of the daemon serving this repository, if one is running."""
    try:
        data = json.loads((state_dir / FILE).read_text(encoding="utf-8"))
        url, pid = data["ui_url"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url.rstrip("/")
