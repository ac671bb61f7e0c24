"""Helper process for the reliability tests: python _worker.py MODE FORUM_DIR ARGS..."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from metawsm.forum import Forum


def main() -> None:
    mode, forum_dir = sys.argv[1], Path(sys.argv[2])
    forum = Forum(forum_dir, fsync=sys.argv[5] if len(sys.argv) > 5 else "always")
    start_at = float(sys.argv[4])
    while time.time() < start_at:  # a crude barrier: every worker starts at the same moment
        time.sleep(0.001)
    if mode == "post":
        thread_id, n = sys.argv[3].split(":")
        for i in range(int(n)):
            forum.post(thread_id, f"{i}", actor_type="agent", actor_name=f"w{forum_dir.name}")
    elif mode == "idem":
        for i in range(int(sys.argv[3])):
            forum.signal("r1", "ABC-1", "a1", 1, "completion", summary=str(i), idempotency_key=f"key-{i}")
    forum.shutdown()


if __name__ == "__main__":
    main()
