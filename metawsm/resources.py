"""Where the shipped data folders (schemas/, hooks/, plans/) live: inside the wheel, or the checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """`schemas`, `hooks` or `plans`: metawsm/_data/<name> in a wheel, <checkout>/<name> in development."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"metawsm data folder {name!r} is missing from the installation")
