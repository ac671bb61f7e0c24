"""`metawsm status --json` with 200 live agent sessions and 1,000 recorded runs (issue 6).

A demo repository gets a plan of 4 tickets x 50 shell agents that sleep, applied with
`execution.max_parallel: 250` (200 tmux sessions on a private socket), plus 1,000 finished runs
(closed, failed or stopped; one ticket, four steps and one agent each) written through StateStore.
Then `metawsm status --json` is timed as a user runs it (a new process each time), health probe
included: the first call (which records every agent's health) and the median of the next ones.
Target: <= 500 ms wall. The tmux server this script starts is killed in `finally`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import PY, ROOT, bench_git, demo_repo, emit, median_ms, metawsm_exe, precompile, step_fields_by_kind

SOCKET = f"mwbench-status-{os.getpid()}"
PLAN = "bench"


def make_repo(root: Path, tickets: int, agents: int) -> None:
    ids = demo_repo(root, tickets)
    plan = f"name: {PLAN}\ntickets: [{', '.join(ids)}]\nagents:\n"
    plan += "".join(f"  - {{name: a{i:03d}, profile: shell, run: \"sleep 900\"}}\n" for i in range(agents))
    (root / "plans" / f"{PLAN}.yaml").write_text(plan, encoding="utf-8")
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux: {{socket_name: {SOCKET}}}\nexecution: {{max_parallel: 250}}\n", encoding="utf-8")
    bench_git(root, "add", "-A")
    bench_git(root, "commit", "-q", "-m", "bench")


def record_runs(db: Path, n: int, fields: dict[str, str]) -> float:
    """`n` finished runs through StateStore; returns the seconds it took."""
    sys.path.insert(0, str(ROOT))
    from metawsm.state import StateStore

    endings = (("complete", "closing", "closed"), ("failed",), ("stopping", "stopped"))
    t0 = time.perf_counter()
    with StateStore(db) as store:
        for i in range(n):
            run_id = f"old-{i:05d}"
            ending = endings[i % len(endings) if i % 10 == 0 else 0]
            # a failed or stopped run stays its plan's active run: those get a plan of their own
            plan = f"plan{i % 20}" if ending[-1] == "closed" else f"plan-old-{i}"
            store.create_run(run_id, plan, f"{i:064x}", "{}")
            store.transition_run(run_id, "planning")
            store.transition_run(run_id, "running")
            t = f"OLD-{i}"
            for sid in (f"workspace:{t}", f"session:{t}:dev", f"agent:{t}:dev", f"gate:{t}"):
                store.upsert_step(run_id, sid, sid.split(":")[0], t, "dev" if ":dev" in sid else None, "h",
                                  fields[sid.split(":")[0]])
            store.upsert_agent(run_id, t, "dev", "shell", f"old-{t}-dev")
            store.new_attempt(run_id, t, "dev")
            store.transition_agent(run_id, t, "dev", "running")
            store.transition_agent(run_id, t, "dev", "stopping")
            store.transition_agent(run_id, t, "dev", "stopped")
            for status in ending:
                store.transition_run(run_id, status)
    return time.perf_counter() - t0


# The same work as `metawsm status --json`, phase by phase, in a fresh interpreter.
PHASES = """
import json, sys, time
t = [time.perf_counter()]
from metawsm.cli.main import build_parser
from metawsm.engine.context import Engine
from metawsm.engine.selection import select_runs
from metawsm.engine.snapshot import build_snapshots
from metawsm.config.project import Project
from metawsm.output import dumps
t.append(time.perf_counter())
build_parser()
t.append(time.perf_counter())
eng = Engine.open(Project.discover(__import__("pathlib").Path(sys.argv[1])))
t.append(time.perf_counter())
runs = select_runs(eng)
eng.sessions(refresh=True)
t.append(time.perf_counter())
snaps = build_snapshots(eng, runs)
t.append(time.perf_counter())
dumps({"runs": [s.to_json() for s in snaps]})
t.append(time.perf_counter())
names = ["imports", "parser", "engine_open_policy", "select_runs_and_tmux_query", "snapshots_with_health", "json"]
print(json.dumps({n: round((b - a) * 1000, 1) for n, a, b in zip(names, t, t[1:])}))
"""


def status_once(root: Path) -> tuple[float, float, dict[str, object]]:
    """Wall and CPU (user + sys) seconds of one `metawsm status --json`, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([*metawsm_exe(), "-C", str(root), "status", "--json"], check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out)


def phases(root: Path) -> dict[str, float]:
    out = subprocess.run([PY, "-c", PHASES, str(root)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def status_baseline() -> float:
    """`metawsm --version` (interpreter start, no imports): what any command costs before its work."""
    t0 = time.perf_counter()
    subprocess.run([*metawsm_exe(), "--version"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=200, help="live agent sessions (default 200)")
    ap.add_argument("--recorded", type=int, default=1000, help="finished runs in state.db (default 1000)")
    ap.add_argument("--runs", type=int, default=10, help="timed status calls after the first (default 10)")
    opts = ap.parse_args()
    tickets = 4
    if opts.agents % tickets:
        ap.error(f"--agents must be a multiple of {tickets} (agents are spread over {tickets} tickets)")
    precompile()
    with tempfile.TemporaryDirectory(prefix="mwbench-status-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, tickets, opts.agents // tickets)
        try:
            t0 = time.perf_counter()
            subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "apply", f"plans/{PLAN}.yaml"], check=True,
                           stdout=subprocess.DEVNULL)
            apply_s = time.perf_counter() - t0
            plan_json = subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "plan", f"plans/{PLAN}.yaml"],
                                       check=True, capture_output=True, text=True).stdout
            fill_s = record_runs(root / ".metawsm" / "state" / "state.db", opts.recorded,
                                 step_fields_by_kind(plan_json))
            first_s, _, data = status_once(root)
            times, cpus = [], []
            for _ in range(opts.runs):
                took, cpu, data = status_once(root)
                times.append(took)
                cpus.append(cpu)
            breakdown = phases(root)
            baseline = [status_baseline() for _ in range(3)]
            runs = data["runs"]
            # status also lists the recorded runs that stay active (failed, stopped): count the live plan's agents
            agents = [a for snap in runs if snap["plan_name"] == PLAN for a in snap["agents"]]  # type: ignore[index]
            health: dict[str, int] = {}
            for a in agents:
                health[a["health"]] = health.get(a["health"], 0) + 1
            sessions = subprocess.run(["tmux", "-L", SOCKET, "list-sessions"], capture_output=True,
                                      text=True).stdout.count("\n")
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if len(agents) != opts.agents or health.get("healthy") != opts.agents:
        raise SystemExit(f"bench: expected {opts.agents} healthy agents, got {health}")
    median = median_ms(times)
    emit("status", {
        "command": "metawsm status --json",
        "live_agent_sessions": sessions,
        "recorded_runs": opts.recorded,
        "active_runs_shown": len(runs),  # type: ignore[arg-type]
        "agents_shown": len(agents),
        "agent_health": health,
        "first_call_ms": round(first_s * 1000, 1),
        "status_wall_median_ms": median,
        "status_wall_all_ms": [round(t * 1000, 1) for t in times],
        "status_cpu_median_ms": median_ms(cpus),
        "target_ms": 500,
        "within_target": median <= 500,
        "metawsm_version_wall_median_ms": median_ms(baseline),
        "phases_in_process_ms": breakdown,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "setup_apply_s": round(apply_s, 2),
        "setup_record_runs_s": round(fill_s, 2),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
