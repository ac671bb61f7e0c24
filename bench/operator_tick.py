"""`metawsm operator` benchmarks (issue 8):

1. One operator tick (reconcile + health of every agent + rules) over 200 live shell agents (sleepers,
   20 tickets x 10 agents, `execution.max_parallel: 250`). Target: <= 1.0 s. Reported: the first tick,
   the median of the next ones, the tmux invocations per tick (health uses ONE batched query), and a tick
   where every agent looks idle (the clock moved past `health.idle_seconds`), so the pane-content probes
   run too.
2. RSS of an operator process after 1,000 ticks over the same agents: <= 100 MB and no growth. The ticks run
   in-process in a child process that reads VmRSS from /proc/self/status at tick 10 and at the last tick.

Every tmux server this script starts runs on its own private socket and is killed in `finally`.
    python bench/operator_tick.py            # full (1,000 ticks for RSS; several minutes)
    python bench/operator_tick.py --quick    # 100 ticks
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import PY, ROOT, emit, median_ms, metawsm_exe, precompile

TICKETS, AGENTS_PER_TICKET = 20, 10
TARGET_TICK_S, TARGET_RSS_MB = 1.0, 100


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    *args], check=True, stdout=subprocess.DEVNULL)


def make_repo(root: Path, socket: str) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "commit", "-q", "--allow-empty", "-m", "init")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL)
    ids = [f"B-{i:03d}" for i in range(1, TICKETS + 1)]
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Bench ticket {tid}\n", encoding="utf-8")
    agents = "".join(f"  - {{name: a{j:02d}, profile: shell, run: \"sleep 3600\"}}\n" for j in range(AGENTS_PER_TICKET))
    (root / "plans" / "bench.yaml").write_text(f"name: bench\ntickets: [{', '.join(ids)}]\nagents:\n{agents}",
                                               encoding="utf-8")
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux: {{socket_name: {socket}}}\nexecution: {{max_parallel: 250, step_retries: 0}}\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench")


def running_agents(root: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from metawsm.state import StateStore

    with StateStore(root / ".metawsm" / "state" / "state.db") as store:
        return sum(1 for a in store.list_agents() if a.status == "running")


def start(root: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([*metawsm_exe(), "-C", str(root), "apply", "plans/bench.yaml"], check=True,
                   stdout=subprocess.DEVNULL)
    want = TICKETS * AGENTS_PER_TICKET
    deadline = time.monotonic() + 120
    while running_agents(root) < want:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: only {running_agents(root)} of {want} agents running")
        time.sleep(0.5)
    return time.perf_counter() - t0


def bench_tick(root: Path, ticks: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from metawsm.config.project import Project
    from metawsm.engine.context import Engine
    from metawsm.operator import Operator

    eng = Engine.open(Project(root))
    op = Operator(eng)
    calls = [0]
    local = eng.runtime.backend_runtime("local")  # type: ignore[attr-defined]  # (the router's local tmux)
    real = local.tmux._cmd

    def counted(*args: str, check: bool = True) -> tuple[int, list[str], list[str]]:
        calls[0] += 1
        return real(*args, check=check)

    local.tmux._cmd = counted
    t0 = time.perf_counter()
    decisions = op.tick()
    first = time.perf_counter() - t0
    times, per_tick = [], []
    for _ in range(ticks):
        calls[0] = 0
        t0 = time.perf_counter()
        decisions += op.tick()
        times.append(time.perf_counter() - t0)
        per_tick.append(calls[0])
    idle = eng.policy.health.idle_seconds
    later = time.time() + idle + 1
    eng.clock = lambda: later  # every agent now looks idle: the pane-content probes run
    calls[0] = 0
    t0 = time.perf_counter()
    probe_decisions = op.tick()
    probing = time.perf_counter() - t0
    probe_calls = calls[0]
    eng.clock = time.time
    op.tick()  # back to running
    eng.close()
    return {
        "agents": TICKETS * AGENTS_PER_TICKET,
        "first_tick_ms": round(first * 1000, 1),
        "tick_median_ms": median_ms(times),
        "tick_max_ms": round(max(times) * 1000, 1),
        "ticks_timed": ticks,
        "tmux_calls_per_tick": statistics.median(per_tick),
        "decisions_on_healthy_agents": len(decisions),
        "tick_all_idle_probing_ms": round(probing * 1000, 1),
        "tmux_calls_all_idle_tick": probe_calls,
        "decisions_all_idle": len(probe_decisions),
        "target_tick_s": TARGET_TICK_S,
        "tick_ok": max(times) <= TARGET_TICK_S,
    }


def rss_child(root: Path, ticks: int) -> None:
    """Runs in a child process: `ticks` operator ticks in-process, VmRSS at tick 10 and at the end."""
    sys.path.insert(0, str(ROOT))
    from metawsm.config.project import Project
    from metawsm.engine.context import Engine
    from metawsm.operator import Operator

    def rss_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    eng = Engine.open(Project(root))
    op = Operator(eng)
    marks: dict[int, int] = {}
    checkpoints = {10, ticks // 4, ticks // 2, 3 * ticks // 4, ticks}
    t0 = time.perf_counter()
    for i in range(1, ticks + 1):
        op.tick()
        if i in checkpoints:
            marks[i] = rss_kb()
    sys.stdout.write(json.dumps({"rss_kb": marks, "seconds": time.perf_counter() - t0}) + "\n")


def bench_rss(root: Path, ticks: int) -> dict[str, object]:
    out = subprocess.run([PY, __file__, "--rss-child", str(root), "--ticks", str(ticks)], check=True,
                         capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    marks = {int(k): v for k, v in data["rss_kb"].items()}
    at10, last = marks[10], marks[ticks]
    return {
        "rss_ticks": ticks,
        "rss_mb_at_tick_10": round(at10 / 1024, 1),
        "rss_mb_at_last_tick": round(last / 1024, 1),
        "rss_mb_checkpoints": {k: round(v / 1024, 1) for k, v in sorted(marks.items())},
        "rss_growth_mb": round((last - at10) / 1024, 1),
        "rss_ticks_seconds": round(data["seconds"], 1),
        "target_rss_mb": TARGET_RSS_MB,
        "rss_ok": last / 1024 <= TARGET_RSS_MB and (last - at10) / 1024 <= 5,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 ticks for the RSS figure instead of 1,000")
    ap.add_argument("--ticks", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rss-child", metavar="ROOT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(Path(args.rss_child), args.ticks)
        return
    precompile()
    rss_ticks = args.ticks or (100 if args.quick else 1000)
    socket = f"mwbench-op-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="mwbench-op-") as tmp:
        root = Path(tmp) / "repo"
        try:
            make_repo(root, socket)
            figures: dict[str, object] = {"apply_and_start_s": round(start(root), 1)}
            figures.update(bench_tick(root, 5 if args.quick else 10))
            figures.update(bench_rss(root, rss_ticks))
        finally:
            subprocess.run(["tmux", "-L", socket, "kill-server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    emit("operator_tick", figures)


if __name__ == "__main__":
    main()
