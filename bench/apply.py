"""`metawsm apply` benchmarks (issue 5), side by side in one run:

1. 50 agent sessions (shell agents that sleep) through `metawsm apply`, the sessions part timed from the
   run's own timestamps (first `session:` step started -> last agent entering `running`, from state.db),
   vs `tmuxp load -d` of an equivalent 50-window workspace (one session, 50 windows running `sleep 600`,
   a start directory per window) on another private socket. Target: metawsm <= 0.25x tmuxp.
2. The whole `metawsm apply` of 10 tickets including their git worktrees (wall time).
3. The state queries `metawsm status --json` makes (active runs, their steps and agents) with 1,000 runs
   recorded. Target: <= 300 ms.

Every tmux server this script starts runs on its own private socket and is killed in `finally`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import PY, ROOT, emit, median_ms, metawsm_exe, precompile, step_fields_by_kind, time_fn, tool

SOCKET_PREFIX = f"mwbench-{os.getpid()}"
PLAN_NAME = "bench"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, stdout=subprocess.DEVNULL)


def make_repo(root: Path, tickets: int, socket: str, max_parallel: int) -> None:
    """A demo repository (`metawsm init --demo`) with `tickets` tickets and a plan of one sleeper each."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q",
        "--allow-empty", "-m", "init")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL)
    ids = [f"B-{i:03d}" for i in range(1, tickets + 1)]
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Bench ticket {tid}\n", encoding="utf-8")
    (root / "plans" / f"{PLAN_NAME}.yaml").write_text(
        f"name: {PLAN_NAME}\ntickets: [{', '.join(ids)}]\n"
        "agents:\n  - {name: sleeper, profile: shell, run: \"sleep 600\"}\n", encoding="utf-8")
    with (root / ".metawsm" / "policy.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"tmux: {{socket_name: {socket}}}\nexecution: {{max_parallel: {max_parallel}}}\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "bench")


def kill_server(socket: str) -> None:
    subprocess.run(["tmux", "-L", socket, "kill-server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def panes_running(socket: str, command: str = "sleep") -> int:
    """Live panes with a `command` process among their descendants (the wrapper shells hide it from
    #{pane_current_command})."""
    out = subprocess.run(["tmux", "-L", socket, "list-panes", "-a", "-F", "#{pane_pid} #{pane_dead}"],
                         capture_output=True, text=True).stdout
    roots = {int(pid) for pid, dead in (line.split() for line in out.splitlines()) if dead == "0"}
    ps = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,comm="], capture_output=True, text=True).stdout
    parent: dict[int, int] = {}
    comm: dict[int, str] = {}
    for line in ps.splitlines():
        pid_s, ppid_s, name = line.split(None, 2)
        parent[int(pid_s)], comm[int(pid_s)] = int(ppid_s), name.strip()
    found = set()
    for pid, name in comm.items():
        if name != command:
            continue
        up = pid
        while up in parent and up not in roots and up > 1:
            up = parent[up]
        if up in roots:
            found.add(up)
    return len(found)


def wait_sleeping(socket: str, n: int, timeout: float = 30.0) -> int:
    """How many panes run `sleep` once n do (or the timeout passes): proof the commands really started."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = panes_running(socket)
        if count >= n:
            break
        time.sleep(0.2)
    return count


def run_apply(root: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "apply", f"plans/{PLAN_NAME}.yaml"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def session_phase(root: Path) -> dict[str, float]:
    """From the run's own timestamps: first `session:` step started -> last agent entering `running`
    (the audit row written after the agent's command was launched in tmux); also the worktree phase."""
    sys.path.insert(0, str(ROOT))
    from metawsm.state import StateStore

    with StateStore(root / ".metawsm" / "state" / "state.db") as store:
        run = store.list_runs(plan_name=PLAN_NAME, limit=1)[0]
        steps = store.list_steps(run.run_id)
        sessions = [s.started_at for s in steps if s.kind == "session" and s.started_at is not None]
        workspaces = [s for s in steps if s.kind == "workspace" and s.started_at is not None]
        agent_steps = [s.started_at for s in steps if s.kind == "agent" and s.started_at is not None]
        running = [t.at for t in store.audit(run.run_id, entity="agent", limit=None) if t.to_state == "running"]
        agents = store.list_agents(run.run_id)
    if not sessions or len(running) != len(agents):
        raise SystemExit(f"bench: run {run.run_id} started {len(running)} of {len(agents)} agents")
    return {
        "sessions_s": max(running) - min(sessions),
        "sessions_to_last_agent_step_s": max(agent_steps) - min(sessions),
        "worktrees_s": max(s.finished_at or 0 for s in workspaces) - min(s.started_at or 0 for s in workspaces),
        "agents_running": float(len(running)),
    }


def bench_sessions(tmp: Path, n: int, runs: int) -> dict[str, object]:
    metawsm_phase: list[float] = []
    metawsm_wall: list[float] = []
    worktrees: list[float] = []
    tmuxp_wall: list[float] = []
    sleeping_metawsm: list[int] = []
    sleeping_tmuxp: list[int] = []
    tmuxp = tool("tmuxp")
    workspace = tmp / "tmuxp.yaml"
    dirs = []
    for i in range(n):
        d = tmp / "tmuxp-dirs" / f"w{i:03d}"
        d.mkdir(parents=True)
        dirs.append(d)
    workspace.write_text(
        "session_name: bench\nwindows:\n" + "".join(
            f"  - window_name: w{i:03d}\n    start_directory: {d}\n    panes:\n      - sleep 600\n"
            for i, d in enumerate(dirs)), encoding="utf-8")
    for r in range(runs):
        socket = f"{SOCKET_PREFIX}-s{r}"
        root = tmp / f"sessions-{r}"
        make_repo(root, n, socket, max(100, n))
        try:
            metawsm_wall.append(run_apply(root))
            phase = session_phase(root)
            metawsm_phase.append(phase["sessions_s"])
            worktrees.append(phase["worktrees_s"])
            sleeping_metawsm.append(wait_sleeping(socket, n))
        finally:
            kill_server(socket)
        socket = f"{SOCKET_PREFIX}-t{r}"
        try:
            t0 = time.perf_counter()
            subprocess.run([tmuxp, "load", "-d", "-y", "--no-progress", "-L", socket, str(workspace)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tmuxp_wall.append(time.perf_counter() - t0)
            sleeping_tmuxp.append(wait_sleeping(socket, n))
        finally:
            kill_server(socket)
    sessions_ms = median_ms(metawsm_phase)
    tmuxp_ms = median_ms(tmuxp_wall)
    return {
        "sessions": n,
        "runs": runs,
        "metawsm_sessions_part_ms": sessions_ms,
        "metawsm_sessions_part_all_ms": [round(t * 1000, 1) for t in metawsm_phase],
        "metawsm_apply_wall_ms": median_ms(metawsm_wall),
        "metawsm_worktrees_part_ms": median_ms(worktrees),
        "tmuxp_load_wall_ms": tmuxp_ms,
        "tmuxp_load_all_ms": [round(t * 1000, 1) for t in tmuxp_wall],
        "ratio_sessions_part_vs_tmuxp": round(sessions_ms / tmuxp_ms, 3),
        "ratio_apply_wall_vs_tmuxp": round(median_ms(metawsm_wall) / tmuxp_ms, 3),
        "target_ratio": 0.25,
        "panes_running_sleep_metawsm": min(sleeping_metawsm),
        "panes_running_sleep_tmuxp": min(sleeping_tmuxp),
    }


def bench_apply_whole(tmp: Path, n: int, runs: int) -> dict[str, object]:
    walls = []
    for r in range(runs):
        socket = f"{SOCKET_PREFIX}-w{r}"
        root = tmp / f"whole-{r}"
        make_repo(root, n, socket, max(100, n))
        try:
            walls.append(run_apply(root))
            worktrees = len(list((root / ".metawsm" / "workspaces").iterdir()))
            if worktrees != n:
                raise SystemExit(f"bench: {worktrees} worktrees for {n} tickets")
        finally:
            kill_server(socket)
    return {"tickets": n, "runs": runs, "apply_wall_ms": median_ms(walls),
            "apply_wall_all_ms": [round(t * 1000, 1) for t in walls]}


def fill_state(db: Path, runs: int, graph_json: str) -> None:
    """`runs` runs through StateStore, 2 tickets x (workspace, session, agent, gate) steps and one agent per
    ticket each. Of every 10: one still running (agents running), one complete but not closed (both still
    shown by `status`), the rest finished: closed, failed or stopped."""
    sys.path.insert(0, str(ROOT))
    from metawsm.state import StateStore

    fields = step_fields_by_kind(graph_json)
    with StateStore(db) as store:
        for i in range(runs):
            run_id = f"bench-{i:05d}"
            # one active run per plan: only closed runs share plan names (every 10th run 0-3 stays active)
            plan = f"plan{i % 20}" if i % 10 > 3 else f"plan-active-{i}"
            store.create_run(run_id, plan, f"{i:064x}", graph_json)
            for status in ("planning", "running"):
                store.transition_run(run_id, status, "bench")
            active = i % 10 == 0
            for t in (f"T-{i}-a", f"T-{i}-b"):
                ids = [f"workspace:{t}", f"session:{t}:dev", f"agent:{t}:dev", f"gate:{t}"]
                for sid in ids:
                    store.upsert_step(run_id, sid, sid.split(":")[0], t, "dev" if ":dev" in sid else None,
                                      f"{hash(sid) & 0xffffffff:08x}", fields[sid.split(":")[0]])
                store.upsert_agent(run_id, t, "dev", "shell", f"plan-{t}-dev")
                store.new_attempt(run_id, t, "dev")
                store.transition_agent(run_id, t, "dev", "running", "bench")
                for sid in ids[: 2 if active else 4]:
                    store.transition_step(run_id, sid, "running", "bench")
                    store.transition_step(run_id, sid, "done", "bench")
                if active:
                    store.transition_step(run_id, ids[2], "running", "bench")
                else:
                    store.transition_agent(run_id, t, "dev", "stopping", "bench")
                    store.transition_agent(run_id, t, "dev", "stopped", "bench")
            if active:
                continue
            ending = {1: ("complete",), 2: ("failed",), 3: ("stopping", "stopped")}.get(
                i % 10, ("complete", "closing", "closed"))
            for status in ending:
                store.transition_run(run_id, status, "bench")


def status_queries(db: Path, *, include_finished: bool) -> Callable[[], object]:
    """What `metawsm status --json` (or `--all`) reads from state.db: the runs, then each one's steps and
    agents — with the store opened fresh, as a new process would."""
    from metawsm.state import StateStore
    from metawsm.state.machines import ACTIVE_RUN_STATES

    def query() -> object:
        with StateStore(db) as store:
            runs = store.list_runs() if include_finished else store.list_runs(status_in=sorted(ACTIVE_RUN_STATES))
            return [(run, store.list_steps(run.run_id), store.list_agents(run.run_id)) for run in runs]

    return query


def bench_state(tmp: Path, n: int, graph_json: str, runs: int) -> dict[str, object]:
    root = tmp / "state-project"
    make_repo(root, 1, f"{SOCKET_PREFIX}-q", 4)  # a private socket: `status` never looks at a shared server
    db = root / ".metawsm" / "state" / "state.db"
    t0 = time.perf_counter()
    fill_state(db, n, graph_json)
    fill_s = time.perf_counter() - t0
    active = status_queries(db, include_finished=False)
    every = status_queries(db, include_finished=True)
    shown = len(active())  # type: ignore[arg-type]
    figures: dict[str, object] = {
        "runs_recorded": n,
        "runs_shown_by_status": shown,
        "graph_json_bytes_per_run": len(graph_json),
        "fill_s": round(fill_s, 2),
        "inprocess_status_queries_ms": median_ms(time_fn(active, runs=runs)),
        "inprocess_status_all_queries_ms": median_ms(time_fn(every, runs=runs)),
        "target_ms": 300,
    }
    if subprocess.run([*metawsm_exe(), "status", "--help"], capture_output=True).returncode == 0:
        for name, extra in (("process_metawsm_status_json_ms", []), ("process_metawsm_status_all_json_ms", ["--all"])):
            times = []
            for i in range(runs + 1):
                t0 = time.perf_counter()
                subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "status", *extra], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if i:  # the first call also records every agent's health
                    times.append(time.perf_counter() - t0)
            figures[name] = median_ms(times)
    else:
        figures["process_metawsm_status_json_ms"] = None  # no `metawsm status` command yet
    return figures


def recorded_graph_json(tmp: Path) -> str:
    """The graph JSON a real 2-ticket run records (so 1,000 runs carry realistic rows)."""
    sys.path.insert(0, str(ROOT))
    root = tmp / "graph-project"
    make_repo(root, 2, f"{SOCKET_PREFIX}-g", 4)
    out = subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "plan", f"plans/{PLAN_NAME}.yaml"],
                         check=True, capture_output=True, text=True).stdout
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 sessions, 1 run, 100 recorded runs")
    parser.add_argument("--sessions", type=int)
    parser.add_argument("--runs", type=int, help="repetitions of each apply (median reported)")
    parser.add_argument("--state-runs", type=int)
    args = parser.parse_args()
    sessions = args.sessions or (10 if args.quick else 50)
    runs = args.runs or (1 if args.quick else 3)
    state_runs = args.state_runs or (100 if args.quick else 1000)
    for exe in ("git", "tmux"):
        if shutil.which(exe) is None:
            raise SystemExit(f"bench: {exe} is not installed")
    tool("tmuxp")  # the peer (the `bench` extra): fail before the long part, not after it
    precompile()
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="mwbench-") as tmp_name:
        tmp = Path(tmp_name)
        sessions_fig = bench_sessions(tmp, sessions, runs)
        whole_fig = bench_apply_whole(tmp, 10, runs)
        state_fig = bench_state(tmp, state_runs, recorded_graph_json(tmp), max(3, runs * 2))
    emit("apply", {
        "command": " ".join([Path(PY).name, "bench/apply.py", *sys.argv[1:]]),
        "agent_sessions": sessions_fig,
        "apply_10_tickets_with_worktrees": whole_fig,
        "state_queries": state_fig,
        "median_note": "medians over runs; sessions part = first session step start -> last agent running",
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
    })


if __name__ == "__main__":
    main()
