"""`metawsm diff T --json` on a ticket branch changing 1,000 files (issue 16) vs `git diff --numstat` +
`git diff` on the same range, in the same run and interleaved (one sample of each per round).

A demo repository gets 1,000 files of 40 lines on main and one ticket whose shell agent rewrites 10 lines of
each, adds 5 new files and deletes 5 (one commit), then signals completion; `metawsm apply --wait` runs it
for real (worktree, tmux session on a private socket, killed in `finally`). Then, per round: the peer
`git diff --numstat MB BRANCH` and `git diff MB BRANCH` (two processes, times added), and `metawsm diff B-1
--json` as a user types it (a new process: interpreter start, state read, merge-base, raw+numstat, patch,
log, JSON out). Target: metawsm ≤ 1.5x the peer. `metawsm --version` is measured beside it as the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import emit, measure_interleaved, median_ms, metawsm_exe, precompile

SOCKET = f"mwbench-diff-{os.getpid()}"
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid", "NO_COLOR": "1"}
GEN = """\
import pathlib, sys
n = int(sys.argv[1])
for i in range(n - 5):
    p = pathlib.Path(f"src/f{i:04d}.txt")
    lines = p.read_text().splitlines()
    for j in range(0, 40, 4):
        lines[j] = f"changed {i} {j}"
    p.write_text("\\n".join(lines) + "\\n")
for i in range(n - 5, n):
    pathlib.Path(f"src/f{i:04d}.txt").unlink()
    pathlib.Path(f"src/new{i:04d}.txt").write_text("new\\n" * 10)
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *GIT_ID, *args], check=True, capture_output=True, text=True,
                          env=ENV).stdout


def make_repo(root: Path, files: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    for i in range(files):
        (root / "src" / f"f{i:04d}.txt").write_text("".join(f"line {j} of file {i}\n" for j in range(40)))
    (root / "gen.py").write_text(GEN)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL,
                   env=ENV)
    (root / "tickets" / "B-1.yaml").write_text("id: B-1\ntitle: Bench diff\n", encoding="utf-8")
    (root / "plans" / "bench.yaml").write_text(
        "name: bench\ntickets: [B-1]\nagents:\n  - name: w\n    profile: shell\n"
        f"    run: {sys.executable} gen.py {files} && git add -A && git commit -q -m change"
        " && metawsm signal completion --summary ok\nchecks: ['true']\n", encoding="utf-8")
    (root / ".metawsm" / "policy.yaml").write_text(f"tmux: {{socket_name: {SOCKET}}}\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000, help="files the ticket branch changes (default 1000)")
    ap.add_argument("--runs", type=int, default=10, help="samples of each command (default 10)")
    ap.add_argument("--quick", action="store_true", help="200 files, 5 runs")
    opts = ap.parse_args()
    if opts.quick:
        opts.files, opts.runs = 200, 5
    precompile()
    with tempfile.TemporaryDirectory(prefix="mwbench-diff-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, opts.files)
        try:
            t0 = time.perf_counter()
            subprocess.run([*metawsm_exe(), "-C", str(root), "apply", "plans/bench.yaml", "--wait", "--timeout",
                            "600"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
            apply_s = time.perf_counter() - t0
            data = json.loads(subprocess.run([*metawsm_exe(), "-C", str(root), "diff", "B-1", "--json"], check=True,
                                             capture_output=True, text=True, env=ENV).stdout)
            (repo,) = data["tickets"][0]["repos"]
            if len(repo["files"]) != opts.files + 5:
                raise SystemExit(f"bench: the branch changes {len(repo['files'])} files, expected {opts.files + 5}")
            mb, branch = repo["base"], "metawsm/B-1"
            g = ["git", "-C", str(root)]
            times = measure_interleaved({
                "git_numstat": [*g, "diff", "--numstat", mb, branch],
                "git_patch": [*g, "diff", mb, branch],
                "metawsm_diff_json": [*metawsm_exe(), "-C", str(root), "diff", "B-1", "--json"],
                "metawsm_version": [*metawsm_exe(), "--version"],
            }, runs=opts.runs, env={"NO_COLOR": "1"})
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = {k: median_ms(v[0]) for k, v in times.items()}
    cpu = {k: median_ms(v[1]) for k, v in times.items()}
    peer = round(wall["git_numstat"] + wall["git_patch"], 2)
    peer_cpu = round(cpu["git_numstat"] + cpu["git_patch"], 2)
    emit("diff", {
        "command": "metawsm diff B-1 --json (a new process)",
        "files_changed": len(repo["files"]),
        "patch_bytes": sum(len(f["patch"]) for f in repo["files"]),
        "metawsm_diff_json_ms": wall["metawsm_diff_json"],
        "peer": "git diff --numstat + git diff (same range, interleaved)",
        "git_numstat_plus_patch_ms": peer,
        "ratio": round(wall["metawsm_diff_json"] / peer, 2) if peer else None,
        "target_ratio": 1.5,
        "within_target": bool(peer) and wall["metawsm_diff_json"] <= 1.5 * peer,
        "cpu_ms": {"metawsm_diff_json": cpu["metawsm_diff_json"], "git_numstat_plus_patch": peer_cpu,
                   "metawsm_version": cpu["metawsm_version"]},
        "cpu_ratio": round(cpu["metawsm_diff_json"] / peer_cpu, 2) if peer_cpu else None,
        "metawsm_version_ms": wall["metawsm_version"],
        "runs": opts.runs,
        "setup_apply_s": round(apply_s, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
