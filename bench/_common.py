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
BIN = Path(PY).parent

# The benches run what a user of an activated virtualenv runs: metawsm, tmuxp, pre-commit and the agents'
# `metawsm signal` from this interpreter's bin folder, whether or not that folder was on PATH.
if str(BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join(p for p in (str(BIN), os.environ.get("PATH", "")) if p)

# The interpreter floors every start-up ratio is measured against, in the same run: without site
# (`-S`: no site-packages, no .pth files — the interpreter's own cost) and with it (`-I` alone: what any
# console script pays for the virtualenv's site, .pth files included).
FLOORS = {
    "python_I_S_pass": [PY, "-I", "-S", "-c", "pass"],
    "python_I_pass": [PY, "-I", "-c", "pass"],
}


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


def time_interleaved(cmds: dict[str, Sequence[str]], *, runs: int = 10, warmup: int = 1, cwd: Path | None = None,
                     env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Wall seconds of each command, measured round-robin (one sample of each per round) so that load
    drift on a shared machine hits them alike; fails loudly on a non-zero exit."""
    return {name: wall for name, (wall, _cpu) in measure_interleaved(cmds, runs=runs, warmup=warmup, cwd=cwd,
                                                                    env=env).items()}


def measure_interleaved(cmds: dict[str, Sequence[str]], *, runs: int = 10, warmup: int = 1, cwd: Path | None = None,
                        env: dict[str, str] | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """{name: (wall seconds, CPU seconds)} of each run, round-robin. CPU = user + system time of the command
    and its children (from getrusage): on a machine shared with other work it moves far less than wall time."""
    import resource

    full_env = {**os.environ, **(env or {})}
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cmds}
    for i in range(warmup + runs):
        for name, argv in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=full_env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if i >= warmup:
                out[name][0].append(wall)
                out[name][1].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return out


def tool(name: str, extra: str = "bench") -> str:
    """An executable installed beside this interpreter (else on PATH); a missing one names the extra to install."""
    found = BIN / name
    if found.is_file():
        return str(found)
    which = shutil.which(name)
    if which:
        return which
    raise SystemExit(f"bench: `{name}` is not installed; install it with: pip install -e '.[{extra}]'")


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
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def emit(name: str, figures: dict[str, object]) -> None:
    """Print the bench's figures as one JSON object (bench/run_all.py collects these)."""
    sys.stdout.write(json.dumps({"bench": name, **figures, "machine": machine()}, indent=2) + "\n")


def step_fields_by_kind(plan_json: str) -> dict[str, str]:
    """{step kind: its fields as JSON} of the first step of each kind in `metawsm --json plan` output: what
    synthetic recorded runs store, so `status` decodes them as it decodes real ones."""
    steps = json.loads(plan_json)["plans"][0]["graph"]["steps"]
    found: dict[str, str] = {}
    for step in steps:
        found.setdefault(step["kind"], json.dumps(step["fields"]))
    return found


BENCH_GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def bench_git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *BENCH_GIT_ID, *args], check=True, stdout=subprocess.DEVNULL)


def demo_repo(root: Path, tickets: int) -> list[str]:
    """A git repository with `metawsm init --demo` and tickets B-1..B-N (uncommitted); their ids."""
    root.mkdir(parents=True)
    bench_git(root, "init", "-q", "-b", "main")
    bench_git(root, "commit", "-q", "--allow-empty", "-m", "init")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL)
    ids = [f"B-{i}" for i in range(1, tickets + 1)]
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Bench ticket {tid}\n", encoding="utf-8")
    return ids
