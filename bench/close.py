"""`metawsm close --ticket T` of half of 20 ready tickets, one by one (issue 13), and one `metawsm close` of the
other half (per ticket = its time / tickets), each beside a bare `git merge --no-ff`
loop over the same ticket branches, in the same run and interleaved (peer merge i, then close i).

A demo repository gets 20 tickets, each with one shell agent that commits <ID>.txt and signals completion,
and a check; `metawsm apply --wait` makes every ticket `ready` (gate passed). The peer is a clone of that
repository (the same commits) where `git merge --no-ff -q -m … origin/metawsm/<ID>` runs into its checked-out
main. Each `metawsm close` is a new process, as a user types it: it re-evaluates the gate, checks and builds
the merge commit with the changelog line from git objects, records its intent, moves main, then removes the
ticket's session, worktree and branch and records the close in the forum. Target: median close <= 3x the
bare merge. `metawsm --version` (interpreter start) is measured beside it, as the floor of any command.

Beside the bare merge (the target's peer, unchanged) a second peer does by hand, in git, what close does to git:
`git status` in the ticket's worktree (the gate's clean-tree check), `git merge --no-ff`, `git worktree remove`,
`git branch -d` — each peer worktree is added before the loop, untimed. Every figure comes with its CPU time
(user + system of the command and the processes it waited for, from getrusage), which moves far less than wall
time on a machine shared with other work. bench/NOTES.md says what the floors include.
The tmux server this script starts runs on a private socket and is killed in `finally`.
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

from _common import emit, median_ms, metawsm_exe, precompile

SOCKET = f"mwbench-close-{os.getpid()}"
PLAN = "bench"
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *GIT_ID, *args], check=True, capture_output=True, text=True,
                          env=ENV).stdout


def make_repo(root: Path, tickets: int) -> list[str]:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "commit", "-q", "--allow-empty", "-m", "init")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL,
                   env=ENV)
    ids = [f"C-{i:02d}" for i in range(1, tickets + 1)]
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Bench ticket {tid}\n", encoding="utf-8")
    (root / "plans" / f"{PLAN}.yaml").write_text(
        f"name: {PLAN}\ntickets: [{', '.join(ids)}]\nagents:\n  - name: w\n    profile: shell\n"
        "    run: printf '%s\\n' {{ ticket.id }} > {{ ticket.id }}.txt && git add -A"
        " && git commit -q -m {{ ticket.id | shquote }} && metawsm signal completion --summary ok\n"
        "checks: ['test -s {{ ticket.id }}.txt']\n", encoding="utf-8")
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux: {{socket_name: {SOCKET}}}\nexecution: {{max_parallel: {tickets + 4}}}\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench")
    return ids


def timed(*argvs: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of running ``argvs`` one after the other."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for argv in argvs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def median_of(samples: list[tuple[float, float]], index: int) -> float:
    return median_ms([s[index] for s in samples])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=20, help="ready tickets to close (default 20)")
    opts = ap.parse_args()
    precompile()
    with tempfile.TemporaryDirectory(prefix="mwbench-close-") as tmp:
        root, peer = Path(tmp) / "repo", Path(tmp) / "peer"
        ids = make_repo(root, opts.tickets)
        try:
            t0 = time.perf_counter()
            subprocess.run([*metawsm_exe(), "-C", str(root), "apply", f"plans/{PLAN}.yaml", "--wait", "--timeout",
                            "600"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
            apply_s = time.perf_counter() - t0
            status = json.loads(subprocess.run([*metawsm_exe(), "-C", str(root), "status", "--json"], check=True,
                                               capture_output=True, text=True, env=ENV).stdout)
            states = {t["ticket"]: t["status"] for s in status["runs"] for t in s["ticket_states"]}
            if sorted(t for t, st in states.items() if st == "ready") != ids:
                raise SystemExit(f"bench: not every ticket is ready: {states}")
            subprocess.run(["git", "clone", "-q", str(root), str(peer)], check=True, env=ENV)
            hand = Path(tmp) / "hand"  # the hand-close peer: a clone with one worktree per ticket branch
            subprocess.run(["git", "clone", "-q", str(root), str(hand)], check=True, env=ENV)
            for tid in ids:
                git(hand, "worktree", "add", "-q", "-b", f"metawsm/{tid}", str(hand / ".wt" / tid),
                    f"origin/metawsm/{tid}")
            closes, merges, hands, floors = [], [], [], []
            single, batch = ids[: len(ids) // 2], ids[len(ids) // 2:]
            for tid in single:
                merges.append(timed(["git", "-C", str(peer), *GIT_ID, "merge", "--no-ff", "-q", "-m",
                                     f"Merge metawsm/{tid}", f"origin/metawsm/{tid}"]))
                hands.append(timed(["git", "-C", str(hand / ".wt" / tid), "status", "--porcelain"],
                                   ["git", "-C", str(hand), *GIT_ID, "merge", "--no-ff", "-q", "-m",
                                    f"Merge metawsm/{tid}", f"metawsm/{tid}"],
                                   ["git", "-C", str(hand), "worktree", "remove", str(hand / ".wt" / tid)],
                                   ["git", "-C", str(hand), "branch", "-q", "-d", f"metawsm/{tid}"]))
                closes.append(timed([*metawsm_exe(), "-C", str(root), "close", "--ticket", tid]))
                floors.append(timed([*metawsm_exe(), "--version"]))
            # the other half: one `metawsm close` (no selector) closes every ready ticket, as a user ends a run
            batch_merges = [timed(["git", "-C", str(peer), *GIT_ID, "merge", "--no-ff", "-q", "-m",
                                   f"Merge metawsm/{tid}", f"origin/metawsm/{tid}"]) for tid in batch]
            batch_close = timed([*metawsm_exe(), "-C", str(root), "close"])
            merged = git(root, "log", "--merges", "--format=%s", "main").count("Merge metawsm/C-")
            left = git(root, "worktree", "list", "--porcelain").count("worktree ")
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if merged != len(ids) or left != 1:
        raise SystemExit(f"bench: {merged} merges on main, {left} worktrees left")
    close_ms, merge_ms, floor_ms = median_of(closes, 0), median_of(merges, 0), median_of(floors, 0)
    close_cpu, merge_cpu, floor_cpu = median_of(closes, 1), median_of(merges, 1), median_of(floors, 1)
    hand_ms, hand_cpu = median_of(hands, 0), median_of(hands, 1)
    batch_ms, batch_cpu = (round(batch_close[i] * 1000 / len(batch), 2) for i in (0, 1))
    batch_merge_ms, batch_merge_cpu = (round(sum(m[i] for m in batch_merges) * 1000 / len(batch), 2) for i in (0, 1))
    emit("close", {
        "command": "metawsm close --ticket T (a new process per ticket)",
        "tickets": len(ids),
        "close_median_ms": close_ms,
        "close_cpu_median_ms": close_cpu,
        "close_all_ms": [round(t * 1000, 1) for t, _ in closes],
        "peer": "git merge --no-ff (same branches, a clone, interleaved)",
        "git_merge_median_ms": merge_ms,
        "git_merge_cpu_median_ms": merge_cpu,
        "ratio": round(close_ms / merge_ms, 2) if merge_ms else None,
        "cpu_ratio": round(close_cpu / merge_cpu, 2) if merge_cpu else None,
        "target_ratio": 3,
        "within_target": bool(merge_ms) and close_ms <= 3 * merge_ms,
        "hand_close": "git status (worktree) + git merge --no-ff + git worktree remove + git branch -d",
        "hand_close_median_ms": hand_ms,
        "hand_close_cpu_median_ms": hand_cpu,
        "ratio_to_hand_close": round(close_ms / hand_ms, 2) if hand_ms else None,
        "cpu_ratio_to_hand_close": round(close_cpu / hand_cpu, 2) if hand_cpu else None,
        "batch": "metawsm close (no selector) closing the other half in one process; per ticket = total / tickets",
        "batch_tickets": len(batch),
        "batch_close_per_ticket_ms": batch_ms,
        "batch_close_cpu_per_ticket_ms": batch_cpu,
        "batch_git_merge_per_ticket_ms": batch_merge_ms,
        "batch_git_merge_cpu_per_ticket_ms": batch_merge_cpu,
        "batch_ratio": round(batch_ms / batch_merge_ms, 2) if batch_merge_ms else None,
        "batch_cpu_ratio": round(batch_cpu / batch_merge_cpu, 2) if batch_merge_cpu else None,
        "batch_within_target": bool(batch_merge_ms) and batch_ms <= 3 * batch_merge_ms,
        "metawsm_version_median_ms": floor_ms,
        "metawsm_version_cpu_median_ms": floor_cpu,
        "close_minus_interpreter_start_ms": round(close_ms - floor_ms, 2),
        "close_cpu_minus_interpreter_start_ms": round(close_cpu - floor_cpu, 2),
        "setup_apply_s": round(apply_s, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
