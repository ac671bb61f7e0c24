"""Run every bench/*.py and write docs/performance.md: one table of figures, targets, the peer or
floor measured in the same run, and the ratio — plus the machine description and the interpreter floors.

    python bench/run_all.py                                      # full sizes (≈ 10 minutes on 2 cores)
    python bench/run_all.py --quick --out /tmp/p.md --json /tmp/p.json   # scaled down (what CI runs)

Every bench is a script run with this interpreter (`bench/NAME.py`, printing one JSON object); the ones
in ORDER come first, any other `bench/*.py` (not starting with `_`) after them; with --quick each gets
its QUICK_ARGS, or `--quick` when it has none and takes that option (else its full size). Exit status: 0 when every
bench ran and every figure of the table was produced, 1 otherwise (a crash, a timeout, a missing figure).
Targets missed are reported in the table, never an exit status: timings on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import FLOORS, median_ms, time_interleaved  # noqa: E402

QUICK_ARGS = {
    "cli_start": ["--runs", "10"], "validate": ["--runs", "3"], "plan": ["--runs", "3"], "forum": ["--quick"],
    "apply": ["--quick"], "status": ["--agents", "48", "--recorded", "200", "--runs", "5"],
    "hooks": ["--files", "2000", "--runs", "7"], "operator_tick": ["--quick"], "server": ["--quick"],
    "close": ["--tickets", "6"], "tui": ["--quick", "--agents", "60"], "screens": ["--quick"],
}
ORDER = ["cli_start", "validate", "plan", "forum", "apply", "status", "close", "hooks", "operator_tick", "server",
         "tui", "screens"]


def get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


@dataclass(frozen=True)
class Row:
    bench: str
    figure: str
    value: str  # path of the measured figure
    unit: str
    target: str  # text, e.g. "≤ 3x"
    meets: Callable[[Any, dict[str, Any]], bool | None]
    peer: str = ""  # what it is compared with
    peer_value: str = ""  # path
    ratio: str = ""  # path of a ratio the bench computed, or "" to compute value/peer
    unless: tuple[str, ...] = ()  # keys the bench sets (to the reason) when it could not measure this row here


def at_most(limit: float, path: str | None = None) -> Callable[[Any, dict[str, Any]], bool | None]:
    def check(value: Any, data: dict[str, Any]) -> bool | None:
        v = get(data, path) if path else value
        return None if v is None else float(v) <= limit
    return check


def both(check: Callable[[float, str | None], Callable[[Any, dict[str, Any]], bool | None]], limit: float,
         wall: str, cpu: str) -> Callable[[Any, dict[str, Any]], bool | None]:
    """Met only when the wall-time ratio and the CPU-time ratio are both within the limit: on a loaded
    machine either one alone can pass by luck."""
    def meets(value: Any, data: dict[str, Any]) -> bool | None:
        results = [check(limit, wall)(value, data), check(limit, cpu)(value, data)]
        return None if None in results else all(results)
    return meets


def at_least(limit: float, path: str | None = None) -> Callable[[Any, dict[str, Any]], bool | None]:
    def check(value: Any, data: dict[str, Any]) -> bool | None:
        v = get(data, path) if path else value
        return None if v is None else float(v) >= limit
    return check


ROWS = [
    Row("cli_start", "interpreter floor with site (`python -I -c pass`)", "python_I_pass_ms", "ms", "(floor)",
        lambda v, d: None, "python -I -S -c pass", "python_I_S_pass_ms"),
    Row("cli_start", "`metawsm --version` start", "metawsm_version_ms", "ms",
        "≤ 2x python -I -S -c pass (wall and CPU)", both(at_most, 2.0, "ratio", "cpu_ratio"),
        "python -I -S -c pass", "python_I_S_pass_ms", "ratio"),
    Row("cli_start", "`metawsm signal completion` (one event appended)", "metawsm_signal_completion_ms", "ms",
        "≤ 2.5x python -I -S -c pass (wall and CPU)", both(at_most, 2.5, "signal_ratio", "cpu_signal_ratio"),
        "python -I -S -c pass (via env)",
        "env_python_I_S_pass_ms", "signal_ratio"),
    Row("cli_start", "… `--version`, CPU time", "cpu_ms.metawsm_version", "ms",
        "(reported)", lambda v, d: None, "python -I -S -c pass, CPU", "cpu_ms.python_I_S_pass", "cpu_ratio"),
    Row("cli_start", "… `signal completion`, CPU time", "cpu_ms.metawsm_signal_completion", "ms",
        "(reported)", lambda v, d: None, "python -I -S -c pass (via env), CPU", "cpu_ms.env_python_I_S_pass",
        "cpu_signal_ratio"),
    Row("validate", "`metawsm validate`, 1,000 tickets (process)", "process_metawsm_validate_ms", "ms",
        "≤ 1.1x faster bare loop (wall and CPU)",
        both(at_most, 1.1, "process_ratio_vs_faster_bare", "process_cpu_ratio_vs_rs"),
        "C YAML + jsonschema-rs loop", "process_bare_cyaml_jsonschema_rs_ms", "process_ratio_vs_faster_bare"),
    Row("validate", "… the same, CPU time", "process_cpu_metawsm_validate_ms", "ms", "(reported)",
        lambda v, d: None, "C YAML + jsonschema-rs loop, CPU", "process_cpu_bare_cyaml_jsonschema_rs_ms",
        "process_cpu_ratio_vs_rs"),
    Row("validate", "loader, 1,000 tickets (in-process)", "inprocess_metawsm_load_ms", "ms",
        "(informative)", lambda v, d: None, "C YAML + jsonschema-rs loop", "inprocess_bare_cyaml_jsonschema_rs_ms",
        "inprocess_ratio_vs_faster_bare"),
    Row("plan", "`metawsm plan --json`, 1,000 tickets x 2 agents", "plan_median_s", "s", "≤ 1.0 s",
        at_most(1.0), "loading the same files", "load_only_median_s", "plan_to_load_ratio"),
    Row("plan", "`metawsm plan` peak RSS", "plan_peak_rss_mib", "MiB", "(reported)", lambda v, d: None,
        "loading only", "load_only_peak_rss_mib"),
    Row("forum", "single log appends (fsync each)", "log_append_single_per_s", "/s", "≥ 0.8x raw write+fsync",
        at_least(0.8, "log_append_vs_raw"), "raw os.write + fsync", "raw_write_fsync_per_s", "log_append_vs_raw"),
    Row("forum", "batched appends", "batched_append_events_per_s", "events/s", "≥ 100,000/s", at_least(100_000)),
    Row("forum", "index rebuild from the log", "rebuild_metawsm_s", "s", "≥ 0.7x bare loop speed (wall and CPU)",
        both(at_least, 0.7, "rebuild_vs_bare", "rebuild_vs_bare_cpu"), "orjson + executemany loop", "rebuild_bare_s",
        "rebuild_vs_bare"),
    Row("forum", "… the same, CPU time", "rebuild_metawsm_cpu_s", "s", "(reported)", lambda v, d: None,
        "bare loop, CPU", "rebuild_bare_cpu_s", "rebuild_vs_bare_cpu"),
    Row("forum", "index rebuild peak RSS", "rebuild_metawsm_peak_rss_mb", "MB", "≤ 100 MB", at_most(100)),
    Row("forum", "`forum list`, 100,000 threads", "list_median_ms", "ms", "≤ 20 ms", at_most(20)),
    Row("apply", "50 agent sessions started (sessions part)", "agent_sessions.metawsm_sessions_part_ms", "ms",
        "≤ 0.25x tmuxp", at_most(0.25, "agent_sessions.ratio_sessions_part_vs_tmuxp"), "tmuxp load -d (50 windows)",
        "agent_sessions.tmuxp_load_wall_ms", "agent_sessions.ratio_sessions_part_vs_tmuxp"),
    Row("apply", "whole apply, 10 tickets with worktrees", "apply_10_tickets_with_worktrees.apply_wall_ms", "ms",
        "(reported)", lambda v, d: None),
    Row("apply", "status queries, 1,000 runs recorded", "state_queries.inprocess_status_queries_ms", "ms",
        "≤ 300 ms", at_most(300)),
    Row("status", "`metawsm status --json`, 200 agents + 1,000 runs", "status_wall_median_ms", "ms", "≤ 500 ms",
        at_most(500), "`metawsm --version`", "metawsm_version_wall_median_ms"),
    Row("close", "`metawsm close --ticket T`, half of 20 ready tickets (median)", "close_median_ms", "ms",
        "≤ 3x git merge --no-ff", at_most(3, "ratio"), "git merge --no-ff (same branches)", "git_merge_median_ms",
        "ratio"),
    Row("close", "… `metawsm close` of the other half in one process, per ticket", "batch_close_per_ticket_ms", "ms",
        "≤ 3x git merge --no-ff", at_most(3, "batch_ratio"), "git merge --no-ff (same branches)",
        "batch_git_merge_per_ticket_ms", "batch_ratio"),
    Row("hooks", "pre-commit hook, nothing to check (run directly)", "direct_pre_commit_ms.metawsm_nothing_to_check",
        "ms", "≤ 2.5x python -I -S -c pass (wall and CPU)",
        both(at_most, 2.5, "nothing_to_check_direct_vs_floor", "nothing_to_check_direct_vs_floor_cpu"),
        "python -I -S -c pass", "direct_pre_commit_ms.python_I_S_pass", "nothing_to_check_direct_vs_floor"),
    Row("hooks", "… the same, CPU time (git's included)", "direct_pre_commit_cpu_ms.metawsm_nothing_to_check", "ms",
        "(reported)", lambda v, d: None, "python -I -S -c pass, CPU", "direct_pre_commit_cpu_ms.python_I_S_pass",
        "nothing_to_check_direct_vs_floor_cpu"),
    Row("hooks", "pre-commit hook, plan staged (run directly)", "direct_pre_commit_ms.metawsm_plan_staged", "ms",
        "≤ 1.5x bare YAML hook (wall and CPU)",
        both(at_most, 1.5, "plan_staged_vs_bare_yaml_hook", "plan_staged_vs_bare_yaml_hook_cpu"),
        "bare python hook parsing the YAML",
        "direct_pre_commit_ms.bare_yaml_hook_plan_staged", "plan_staged_vs_bare_yaml_hook"),
    Row("hooks", "… the same, CPU time", "direct_pre_commit_cpu_ms.metawsm_plan_staged", "ms", "(reported)",
        lambda v, d: None, "bare YAML hook, CPU", "direct_pre_commit_cpu_ms.bare_yaml_hook_plan_staged",
        "plan_staged_vs_bare_yaml_hook_cpu"),
    Row("hooks", "pre-push gate, ticket branch, 10,000 files (run directly)",
        "direct_pre_push_ms.metawsm_gate_ticket_branch", "ms", "≤ 1.5x bare gate hook (wall and CPU)",
        both(at_most, 1.5, "gate_vs_bare_gate_hook", "gate_vs_bare_gate_hook_cpu"),
        "bare python hook: sqlite3 + one git call",
        "direct_pre_push_ms.bare_gate_hook", "gate_vs_bare_gate_hook"),
    Row("hooks", "… the same, CPU time", "direct_pre_push_cpu_ms.metawsm_gate_ticket_branch", "ms", "(reported)",
        lambda v, d: None, "bare gate hook, CPU", "direct_pre_push_cpu_ms.bare_gate_hook",
        "gate_vs_bare_gate_hook_cpu"),
    Row("hooks", "pre-push, other branch (run directly)", "direct_pre_push_ms.metawsm_other_branch", "ms",
        "(reported)", lambda v, d: None, "python -I -S -c pass", "direct_pre_push_ms.python_I_S_pass",
        "other_branch_vs_floor"),
    Row("hooks", "`git commit` overhead, nothing to check", "commit_overhead_ms.metawsm_nothing_to_check", "ms",
        "(reported)", lambda v, d: None, "bare python hook overhead", "commit_overhead_ms.bare_python_hook",
        "nothing_to_check_vs_bare_python"),
    Row("hooks", "`git commit` overhead, plan staged", "commit_overhead_ms.metawsm_plan_staged", "ms",
        "(reported)", lambda v, d: None, "pre-commit framework, one trivial hook",
        "commit_overhead_ms.pre_commit_framework_trivial"),
    Row("hooks", "`git push` overhead, gate of a ticket branch", "push_overhead_ms.metawsm_gate_ticket_branch", "ms",
        "(reported)", lambda v, d: None, "bare python hook overhead", "push_overhead_ms.bare_python_hook"),
    Row("diff", "`metawsm diff T --json`, 1,000 changed files", "metawsm_diff_json_ms", "ms",
        "≤ 1.5x git diff --numstat + git diff", at_most(1.5, "ratio"), "git diff --numstat + git diff",
        "git_numstat_plus_patch_ms", "ratio"),
    Row("diff", "… the same, CPU time", "cpu_ms.metawsm_diff_json", "ms", "(reported)", lambda v, d: None,
        "git diff --numstat + git diff, CPU", "cpu_ms.git_numstat_plus_patch", "cpu_ratio"),
    Row("operator_tick", "one tick, 200 live agents", "tick_median_ms", "ms", "≤ 1,000 ms", at_most(1000)),
    Row("operator_tick", "one tick, 200 idle agents (screens compared)", "tick_all_idle_probing_ms", "ms", "≤ 1,000 ms",
        at_most(1000)),
    Row("operator_tick", "operator RSS after 1,000 ticks", "rss_mb_at_last_tick", "MB", "≤ 100 MB, no growth",
        at_most(100), "RSS at tick 10", "rss_mb_at_tick_10"),
    Row("server", "append → WebSocket frame p99, 20 clients", "latency.p99_ms", "ms", "≤ 100 ms", at_most(100),
        "p50", "latency.p50_ms"),
    Row("server", "GET /api/v1/forum/threads, 10,000 threads", "list_threads.median_ms", "ms", "≤ 20 ms",
        at_most(20)),
    Row("server", "daemon idle CPU", "idle_cpu.percent_of_one_core", "% of a core", "≤ 2 %", at_most(2)),
    Row("tui", "`metawsm tui`, 200 agents, ~50 rows shown, one live preview: CPU", "cpu.percent_of_one_core",
        "% of a core", "≤ 10 %", at_most(10), "with its tmux clients", "cpu.with_tmux_clients_percent"),
    Row("tui", "… frame time p95 (new data → painted frame)", "frames.frame_ms.p95", "ms", "≤ 50 ms", at_most(50),
        "UI thread CPU p95", "frames.frame_cpu_ms.p95"),
    Row("backends", "apply → agents running, what docker adds over local (20 agents; --quick 4)", "docker_added_s", "s",
        "≤ 1.5x the raw floor", at_most(1.5, "docker_added_vs_floor"),
        "`docker run` + `docker exec tmux new-session`, 8 at once", "floor.parallel_8_s", "docker_added_vs_floor",
        unless=("docker_skipped",)),
    Row("backends", "… apply → agents running on local", "local.apply_to_running_s", "s", "(reported)",
        lambda v, d: None, "on docker", "docker.apply_to_running_s", unless=("docker_skipped",)),
    Row("backends", "memory per agent on docker (container cgroup)", "docker.memory_per_agent_mib", "MiB",
        "(reported)", lambda v, d: None, "local: tmux server + panes RSS per agent", "local.memory_per_agent_mib",
        unless=("docker_skipped",)),
    Row("backends", "apply → agents running, what swarm (2 nodes) adds over local", "swarm.added_s", "s",
        "≤ 1.5x the raw floor", at_most(1.5, "swarm.added_vs_floor"),
        "`docker service create` + wait + `docker exec tmux new-session`, 8 at once", "swarm.floor_parallel_8_s",
        "swarm.added_vs_floor", unless=("docker_skipped", "swarm_skipped")),
    Row("backends", "memory per agent on swarm (service containers' cgroups)", "swarm.memory_per_agent_mib", "MiB",
        "(reported)", lambda v, d: None, unless=("docker_skipped", "swarm_skipped")),
    Row("server", "RSS after 20,000 events streamed", "rss.rss_mb_after_20000", "MB", "no growth",
        lambda v, d: None, "RSS after 10,000", "rss.rss_mb_after_10000"),
    Row("screens", "daemon CPU, 10 Chromium pages watching one live screen", "daemon_cpu_watching.percent_of_one_core",
        "% of a core", "≤ 15 %", at_most(15), "the same daemon, no client",
        "daemon_cpu_no_clients.percent_of_one_core"),
]


def quick_args(name: str) -> list[str]:
    """QUICK_ARGS of a bench; a bench not listed gets `--quick` when it takes that option."""
    if name in QUICK_ARGS:
        return QUICK_ARGS[name]
    return ["--quick"] if '"--quick"' in (ROOT / "bench" / f"{name}.py").read_text(encoding="utf-8") else []


def run_bench(name: str, quick: bool, timeout: float) -> tuple[dict[str, Any] | None, float, str]:
    args = quick_args(name) if quick else []
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0, f"timed out after {timeout:g}s"
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        return None, elapsed, f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
    text = proc.stdout
    try:
        return json.loads(text[text.index("{"):]), elapsed, ""
    except ValueError:
        return None, elapsed, "no JSON on stdout"


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(results: dict[str, dict[str, Any] | None]) -> list[str]:
    lines = ["| bench | figure | measured | target | peer / floor (same run) | ratio | met |",
             "|---|---|---|---|---|---|---|"]
    for row in ROWS:
        data = results.get(row.bench)
        if data is None or data.get("skipped"):
            why = f"skipped: {data['skipped']}" if data else "not measured"
            lines.append(f"| {row.bench} | {row.figure} | {why} | {row.target} | | | |")
            continue
        value = get(data, row.value)
        peer = get(data, row.peer_value) if row.peer_value else None
        ratio = get(data, row.ratio) if row.ratio else (
            round(float(value) / float(peer), 3) if value is not None and peer else None)
        met = row.meets(value, data)
        mark = {True: "yes", False: "**no**", None: "—"}[met]
        peer_text = f"{row.peer}: {fmt(peer)}" if row.peer else ""
        lines.append(f"| {row.bench} | {row.figure} | {fmt(value)} {row.unit} | {row.target} | {peer_text} | "
                     f"{fmt(ratio)} | {mark} |")
    return lines


def machine() -> list[str]:
    mem = ""
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        mem = f"{int(total.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    tmux, git = (subprocess.run(argv, capture_output=True, text=True).stdout.strip() if shutil.which(argv[0])
                 else f"no {argv[0]}" for argv in (["tmux", "-V"], ["git", "--version"]))
    return [f"- CPU: {os.cpu_count()} cores ({platform.processor() or platform.machine()}); memory {mem}",
            f"- OS: {platform.platform()}", f"- Python {platform.python_version()} ({sys.executable})",
            f"- {tmux}; {git}", f"- load average before the run: {load()}",
            "- bytecode precompiled (`python -m compileall`) by each bench before timing"]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def floors(runs: int = 20) -> dict[str, float]:
    """The interpreter's start-up floors, measured round-robin in this run (each bench measures its own too)."""
    return {name: median_ms(times) for name, times in time_interleaved(FLOORS, runs=runs).items()}


def bench_names(only: list[str] | None) -> list[str]:
    """ORDER first, then any other bench script; `only` filters."""
    others = sorted(p.stem for p in (ROOT / "bench").glob("*.py")
                    if not p.stem.startswith("_") and p.stem != "run_all" and p.stem not in ORDER)
    names = [n for n in ORDER if (ROOT / "bench" / f"{n}.py").exists()] + others
    return [n for n in names if not only or n in only]


def missing_figures(results: dict[str, dict[str, Any] | None]) -> list[str]:
    """`bench: figure` of every table row whose bench ran but whose figure is absent (a bench that reported
    {"skipped": reason} — it needs something this machine lacks — has none missing; nor has a row whose bench
    reported one of the row's `unless` keys, e.g. {"docker_skipped": reason} beside its ssh figures)."""
    return [f"{row.bench}: {row.value}" for row in ROWS
            if results.get(row.bench) is not None and not (results[row.bench] or {}).get("skipped")
            and not any((results[row.bench] or {}).get(key) for key in row.unless)
            and get(results[row.bench] or {}, row.value) is None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes")
    parser.add_argument("--only", nargs="*", help="bench names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--json", dest="json_out", metavar="PATH", help="also write every bench's figures as JSON")
    parser.add_argument("--timeout", type=float, default=600, help="per bench, seconds")
    parser.add_argument("--rerender", action="store_true",
                        help="rebuild the table from the raw figures already in --out (no bench is run)")
    args = parser.parse_args()
    if args.rerender:
        rerender(Path(args.out))
        return 0
    names = bench_names(args.only)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine_lines = machine()
    floor = floors()
    machine_lines.append(f"- interpreter floors measured at the start of this run (medians of 20, interleaved): "
                         f"`python -I -S -c pass` {floor['python_I_S_pass']} ms (no site: the interpreter alone), "
                         f"`python -I -c pass` {floor['python_I_pass']} ms (with the virtualenv's site and .pth "
                         "files); every start-up ratio below divides by `python -I -S -c pass` as measured by "
                         "that bench in its own run")
    results: dict[str, dict[str, Any] | None] = {}
    notes: list[str] = []
    errors: dict[str, str] = {}
    out = Path(args.out)
    if args.only and out.exists():  # re-measure some benches; keep the others' figures from the report
        previous = raw_results(out.read_text(encoding="utf-8"))
        results.update({k: v for k, v in previous.items() if k not in args.only})
        notes.append(f"- re-measured on {started}: {', '.join(args.only)}; the other figures are from the "
                     "earlier run named in the first line")
        names_all = [n for n in bench_names(None) if n in results or n in args.only]
        import re

        first = re.search(r" on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", out.read_text(encoding="utf-8"))
        generated = first.group(1) if first else started
    else:
        names_all = names
        generated = started
    for name in names:
        before = load()
        data, elapsed, error = run_bench(name, args.quick, args.timeout)
        results[name] = data
        if error:
            errors[name] = error
        skipped = f" — skipped: {data['skipped']}" if data and data.get("skipped") else ""
        notes.append(f"- `{name}`: {elapsed:.0f} s, load average before {before}, after {load()}"
                     + (f" — **{error}**" if error else "") + skipped)
        sys.stderr.write(f"{name}: {elapsed:.0f}s {error}\n")
    missing = missing_figures({n: results.get(n) for n in names})
    if missing:
        notes.append(f"- **figures missing**: {', '.join(missing)}")
    command = "python bench/run_all.py" + (" --quick" if args.quick else "")
    doc = ["# Performance", "",
           f"Generated by `{command}` on {generated} — do not edit "
           "by hand. Each figure is compared with a peer or floor measured in the same run on the same machine, "
           "so the ratio is what matters on a noisy machine; the raw JSON of every bench is below. Start-up "
           "ratios divide by the interpreter's floor without site customisations (`python -I -S -c pass`); "
           "`python -I -c pass` (with the virtualenv's site) is reported beside it.", "",
           *table(results), "", *notes_text(), "## Machine", "", *machine_lines, "", "## Runs", "", *notes, "",
           "## Raw figures", ""]
    for name in names_all:
        doc += [f"<details><summary>{name}</summary>", "", "```json", json.dumps(results.get(name), indent=1), "```",
                "", "</details>", ""]
    out.write_text("\n".join(doc), encoding="utf-8")
    sys.stderr.write(f"wrote {args.out}\n")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "command": command, "generated": generated, "floors_ms": floor, "results": results,
            "errors": errors, "missing_figures": missing}, indent=1) + "\n", encoding="utf-8")
        sys.stderr.write(f"wrote {args.json_out}\n")
    if errors or missing:
        sys.stderr.write(f"run_all: {len(errors)} bench(es) failed, {len(missing)} figure(s) missing\n")
        return 1
    return 0


def notes_text() -> list[str]:
    """bench/NOTES.md (how to read the figures, why a target is missed), kept by hand beside the benches."""
    path = ROOT / "bench" / "NOTES.md"
    return [path.read_text(encoding="utf-8").rstrip(), ""] if path.is_file() else []


def raw_results(text: str) -> dict[str, Any]:
    """The raw JSON of every bench, as a report stores it."""
    import re

    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r"<summary>(\w+)</summary>\n\n```json\n(.*?)\n```", text, re.S)}


def rerender(path: Path) -> None:
    """Recompute the table of an existing report from its own raw figures (same run, same date)."""
    text = path.read_text(encoding="utf-8")
    results = raw_results(text)
    head = text[:text.index("| bench | figure |")]
    tail = text[text.index("\n## Machine") + 1:]
    path.write_text(head + "\n".join([*table(results), "", *notes_text(), ""]) + tail, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
