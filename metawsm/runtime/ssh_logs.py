"""Transcripts of ssh sessions: tmux on the host pipes each attempt's pane into ``<base>/logs/<run>+<ticket>+
<agent>.<attempt>.log`` (the local transcript path's last three parts joined by '+', which they never contain),
and :func:`fetch` appends to the local transcript what the host's copy has beyond it — from the local file's
size on, base64 over ssh so no byte changes —, one round trip for many files."""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from metawsm.runtime.ssh_conn import SshHost


def remote_log(base: str, local: str) -> str:
    """The host's file for the local transcript ``local``."""
    return f"{base}/logs/" + "+".join(Path(local).parts[-3:])


def _chunks(out: str) -> dict[int, bytes]:
    """``@@<index>`` lines, each followed by base64 lines → index → the decoded bytes."""
    found: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("@@") and line[2:].isdigit():
            current = found.setdefault(int(line[2:]), [])
        elif current is not None:
            current.append(line.strip())
    decoded = {}
    for index, lines in found.items():
        try:
            decoded[index] = base64.b64decode("".join(lines), validate=True)
        except (binascii.Error, ValueError):
            continue  # a torn answer: the next fetch asks again from the same size
    return decoded


def fetch(host: SshHost, base: str, paths: Sequence[str]) -> list[str]:
    """Append to each local transcript in ``paths`` what the host's copy has beyond it; returns those that grew."""
    q = shlex.quote
    sizes = [Path(p).stat().st_size if Path(p).is_file() else 0 for p in paths]
    script = "; ".join(f"echo @@{i}; f={q(remote_log(base, p))}; "
                       f'[ ! -f "$f" ] || tail -c +{sizes[i] + 1} "$f" | base64' for i, p in enumerate(paths))
    grown = []
    for index, data in _chunks(host.run(script, check=False).stdout).items():
        if data and 0 <= index < len(paths):
            path = Path(paths[index])
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # two readers fetching at once append it once
                if os.fstat(handle.fileno()).st_size != sizes[index]:
                    continue  # another fetch appended meanwhile: the next one continues from there
                handle.write(data)
            grown.append(paths[index])
    return grown
