"""Helpers shared by the bench scripts: timing, precompiling, machine facts, JSON output."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def precompile() -> bool:
    """Bytecode-compile metawsm so PYTHONDONTWRITEBYTECODE=1 machines measure steady-state starts."""
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "metawsm")], check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    return True


def metawsm_exe() -> list[str]:
    """The installed console script when present (what users run), else `python -m metawsm`."""
    script = Path(PY).parent / "metawsm"
    return [str(script)] if script.exists() else [PY, "-m", "metawsm"]


def time_cmd(argv: Sequence[str], *, runs: int = 10, cwd: Path | None = None, warmup: int = 1,
             env: dict[str, str] | None = None) -> list[float]:
    """Wall seconds of each run of a command (output discarded); fails loudly on non-zero exit."""
    env = {**os.environ, **(env or {})}
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def time_fn(fn: Callable[[], object], *, runs: int = 5, warmup: int = 1) -> list[float]:
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def median_ms(times: Sequence[float]) -> float:
    return round(statistics.median(times) * 1000, 2)


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tmux": shutil.which("tmux") is not None,
        "bytecode_precompiled": True,
    }


def emit(name: str, figures: dict[str, object]) -> None:
    """Print the bench's figures as one JSON object (bench/run_all.py collects these)."""
    sys.stdout.write(json.dumps({"bench": name, **figures, "machine": machine()}, indent=2) + "\n")
