"""Benchmark the planner: `metawsm plan --json > /dev/null` over 1,000 tickets x 2 agents.

Prints one JSON object: the median wall time of the whole command (a fresh interpreter each run),
its peak RSS, the bare cost of loading the same files (loader only, also a fresh interpreter) and an
in-process breakdown (load, render, JSON). Usage: python bench/plan.py [--tickets N] [--runs R]
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

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.0

TICKET = """\
id: {id}
title: Benchmark ticket {n}
goal: |
  Implement part {n} of the benchmark feature, with tests.
  Keep the change small and focused.
done_criteria:
  - tests pass
  - docs updated
labels: [bench, {label}]
vars:
  area: area-{area}
"""

PLAN = """\
name: bench
description: 1,000 tickets x 2 agents.
tickets:
{tickets}
agents:
  - name: impl
    profile: codex
    prompt: |
      Work on {{{{ ticket.id }}}}: {{{{ ticket.title }}}} in {{{{ ticket.vars.area }}}}.
      {{% for c in ticket.done_criteria %}}- {{{{ c }}}}
      {{% endfor %}}
  - name: docs
    profile: shell
    run: ./scripts/docs.sh {{{{ ticket.id | shquote }}}} {{{{ workspace.branch | shquote }}}}
checks:
  - pytest -q
  - test -f docs/{{{{ ticket.id }}}}.md
steps:
  - id: lint:{{{{ ticket.id }}}}
    needs: ["check:{{{{ ticket.id }}}}"]
    run: ruff check .
    when: "'bench' in ticket.labels"
  - id: report:{{{{ ticket.id }}}}
    needs: ["gate:{{{{ ticket.id }}}}"]
    run: echo {{{{ ticket.title | shquote }}}} done
    tmux: true
auto_close: true
"""


def make_repo(root: Path, n: int) -> None:
    (root / ".metawsm").mkdir()
    (root / "tickets").mkdir()
    (root / "plans").mkdir()
    ids = [f"BENCH-{i}" for i in range(1, n + 1)]
    for i, tid in enumerate(ids, 1):
        (root / "tickets" / f"{tid}.yaml").write_text(
            TICKET.format(id=tid, n=i, label="odd" if i % 2 else "even", area=i % 7), encoding="utf-8")
    tickets = "\n".join(f"  - {t}" for t in ids)
    (root / "plans" / "bench.yaml").write_text(PLAN.format(tickets=tickets), encoding="utf-8")


def timed(argv: list[str], cwd: Path) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user + system) of one child process.

    CPU time is reported too because wall time swings when other work shares the machine."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def in_process(root: Path) -> dict[str, float]:
    sys.path.insert(0, str(REPO))
    from metawsm.config import loader
    from metawsm.config.project import Project
    from metawsm.plan.jsonfmt import encode
    from metawsm.plan.preview import preview

    proj = Project(root)
    t0 = time.perf_counter()
    config = loader.load(proj)
    t1 = time.perf_counter()
    previews = preview(config, list(config.plans.values()), project_root=root)
    t2 = time.perf_counter()
    text = encode({"changed": True, "plans": [p.to_json() for p in previews]})
    t3 = time.perf_counter()
    return {"load_s": round(t1 - t0, 3), "render_s": round(t2 - t1, 3), "json_s": round(t3 - t2, 3),
            "steps": sum(len(p.graph.steps) for p in previews), "json_bytes": len(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "metawsm")], check=True)
    with tempfile.TemporaryDirectory(prefix="metawsm-bench-") as tmp:
        root = Path(tmp)
        make_repo(root, opts.tickets)
        plan_cmd = [sys.executable, "-m", "metawsm", "plan", "--json"]
        load_cmd = [sys.executable, "-c", "from pathlib import Path; from metawsm.config import loader; "
                    "from metawsm.config.project import Project; loader.load(Project(Path.cwd()))"]
        timed(plan_cmd, root)  # warm the OS file cache
        plan_runs = [timed(plan_cmd, root) for _ in range(opts.runs)]
        load_runs = [timed(load_cmd, root) for _ in range(opts.runs)]
        breakdown = in_process(root)
    plan_s = statistics.median(r[0] for r in plan_runs)
    load_s = statistics.median(r[0] for r in load_runs)
    result = {
        "benchmark": "metawsm plan --json > /dev/null",
        "tickets": opts.tickets,
        "agents_per_ticket": 2,
        "steps": breakdown["steps"],
        "runs": opts.runs,
        "precompiled": True,
        "plan_median_s": round(plan_s, 3),
        "plan_runs_s": [round(r[0], 3) for r in plan_runs],
        "plan_cpu_median_s": round(statistics.median(r[2] for r in plan_runs), 3),
        "plan_peak_rss_mib": round(max(r[1] for r in plan_runs) / 1024, 1),
        "load_only_median_s": round(load_s, 3),
        "load_only_cpu_median_s": round(statistics.median(r[2] for r in load_runs), 3),
        "load_only_peak_rss_mib": round(max(r[1] for r in load_runs) / 1024, 1),
        "plan_to_load_ratio": round(plan_s / load_s, 2) if load_s else None,
        "in_process": breakdown,
        "target_s": TARGET_SECONDS,
        "target_met": plan_s <= TARGET_SECONDS,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
