"""Cost of metawsm's git hooks in a 10,000-file repository.

`git commit` with: no hook; a bare `python -c 'import sys; sys.exit(0)'` hook; the metawsm hook with
nothing to check (a non-metawsm file staged, policy cache warm); the metawsm hook with one plan staged;
the pre-commit framework running one trivial local hook. And `git push --dry-run` of a ticket branch
(git runs pre-push for dry runs too) with: no hook; the bare python hook; the metawsm hook evaluating the
gate of a real run (demo plan applied with shell agents in tmux); the metawsm hook for a non-ticket branch.

Configurations are measured round-robin (one sample of each per round) so machine-load drift hits them
alike; figures are medians. Targets: nothing-to-check overhead ≤ 1.6x the bare python hook's; plan staged
≤ 120 ms overhead; pre-push gate ≤ 60 ms overhead.

    python bench/hooks.py [--files 10000] [--runs 21] [--pre-commit PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import FLOORS, PY, ROOT, emit, median_ms, metawsm_exe, precompile

BARE_HOOK = f"#!/bin/sh\nexec {PY} -c 'import sys; sys.exit(0)'\n"
TRIVIAL_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: trivial
        name: trivial
        entry: "true"
        language: system
        pass_filenames: false
        always_run: true
"""
ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
       "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


def metawsm(cwd: Path, *args: str, timeout: float = 300) -> None:
    subprocess.run([*metawsm_exe(), "-C", str(cwd), *args], check=True, capture_output=True, timeout=timeout)


def make_repo(root: Path, files: int, socket: str) -> None:
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "config", "commit.gpgsign", "false")
    per_dir = 100
    for i in range(files):
        folder = root / "src" / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:05d}.txt").write_text(f"file {i}\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "10k files")
    metawsm(root, "init", "--demo")
    (root / ".metawsm" / "policy.yaml").write_text(f"tmux:\n  socket_name: {socket}\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "metawsm demo")


def find_pre_commit(given: str | None, tmp: Path) -> tuple[str | None, str]:
    """The pre-commit executable: --pre-commit, PATH, the test suite's cached venv, or a fresh venv."""
    candidates = [given, shutil.which("pre-commit"),
                  str(ROOT / ".pytest_cache" / "d" / "metawsm-pre-commit" / "venv" / "bin" / "pre-commit")]
    for exe in candidates:
        if exe and Path(exe).is_file():
            return exe, "found"
    venv = tmp / "pc-venv"
    made = subprocess.run([PY, "-m", "venv", str(venv)], capture_output=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pre-commit"],
                         capture_output=True) if made.returncode == 0 else made
    exe = venv / "bin" / "pre-commit"
    return (str(exe), "installed") if pip.returncode == 0 and exe.exists() else (None, "pip could not install it")


class Hooks:
    """Swaps what .git/hooks/<name> is (nothing, bare python, metawsm's, pre-commit's)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / ".git" / "hooks"
        metawsm(root, "hooks", "install")
        self.ours = {n: (self.dir / n).read_text(encoding="utf-8") for n in ("pre-commit", "pre-push")}
        self.framework: str | None = None

    def set(self, name: str, content: str | None) -> None:
        path = self.dir / name
        if content is None:
            path.unlink(missing_ok=True)
            return
        path.write_text(content, encoding="utf-8")
        path.chmod(0o755)


def round_robin(configs: dict[str, tuple[Callable[[], None], Callable[[int], None], list[str]]], runs: int,
                cwd: Path, warmup: int = 2) -> dict[str, list[float]]:
    """{name: seconds per run}; each config = (install its hook, prepare run i, argv timed)."""
    times: dict[str, list[float]] = {name: [] for name in configs}
    counter = 0
    for i in range(warmup + runs):
        for name, (setup, prepare, argv) in configs.items():
            setup()
            counter += 1
            prepare(counter)
            t0 = time.perf_counter()
            proc = subprocess.run(argv, cwd=cwd, capture_output=True)
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{name}: {' '.join(argv)} failed:\n{proc.stderr.decode(errors='replace')}")
            if i >= warmup:
                times[name].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--pre-commit", dest="pre_commit", help="a pre-commit executable (default: look, or pip)")
    args = parser.parse_args()
    if args.runs < 5:
        raise SystemExit("--runs must be at least 5")
    precompiled = precompile()
    os.environ.update(ENV)
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TMUX", "METAWSM_HOME"):
        os.environ.pop(key, None)
    socket = f"mwbench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="metawsm-bench-hooks-"))
    figures: dict[str, object] = {"files": args.files, "runs": args.runs, "bytecode_precompiled": precompiled}
    try:
        root = tmp / "repo"
        make_repo(root, args.files, socket)
        hooks = Hooks(root)
        (root / ".metawsm" / "state").mkdir(parents=True, exist_ok=True)
        figures["load_average_start"] = [round(x, 2) for x in os.getloadavg()]

        touch = root / "notes.txt"
        plan = root / "plans" / "demo.yaml"
        plan_text = plan.read_text(encoding="utf-8")

        def stage_touch(i: int) -> None:
            touch.write_text(f"{i}\n", encoding="utf-8")
            git(root, "add", "notes.txt")

        def stage_plan(i: int) -> None:
            plan.write_text(f"{plan_text}# edit {i}\n", encoding="utf-8")
            git(root, "add", "plans/demo.yaml")

        pc_exe, pc_how = find_pre_commit(args.pre_commit, tmp)
        figures["pre_commit_framework"] = {"executable": pc_exe, "how": pc_how}
        pc_hook = None
        if pc_exe:
            (root / ".pre-commit-config.yaml").write_text(TRIVIAL_CONFIG, encoding="utf-8")
            git(root, "add", ".pre-commit-config.yaml")
            git(root, "commit", "-q", "--no-verify", "-m", "pre-commit config")
            hooks.set("pre-commit", None)
            os.environ["PRE_COMMIT_HOME"] = str(tmp / "pre-commit-home")
            subprocess.run([pc_exe, "install", "-t", "pre-commit"], cwd=root, check=True, capture_output=True)
            pc_hook = (hooks.dir / "pre-commit").read_text(encoding="utf-8")
            subprocess.run([pc_exe, "install-hooks"], cwd=root, check=True, capture_output=True)

        commit = ["git", "commit", "-q", "-m", "bench"]
        configs = {
            **{name: (lambda: None, lambda _i: None, argv) for name, argv in FLOORS.items()},  # the floors, interleaved
            "no_hook": (lambda: hooks.set("pre-commit", None), stage_touch, commit),
            "bare_python_hook": (lambda: hooks.set("pre-commit", BARE_HOOK), stage_touch, commit),
            "metawsm_nothing_to_check": (lambda: hooks.set("pre-commit", hooks.ours["pre-commit"]), stage_touch,
                                         commit),
            "metawsm_plan_staged": (lambda: hooks.set("pre-commit", hooks.ours["pre-commit"]), stage_plan, commit),
        }
        if pc_hook is not None:
            configs["pre_commit_framework_trivial"] = (lambda: hooks.set("pre-commit", pc_hook), stage_touch, commit)
        commit_times = round_robin(configs, args.runs, root)
        floors = {name: median_ms(commit_times.pop(name)) for name in FLOORS}
        figures["floors_ms"] = floors
        figures["python_startup_ms"] = floors["python_I_S_pass"]
        commit_ms = {k: median_ms(v) for k, v in commit_times.items()}
        base = commit_ms["no_hook"]
        commit_over = {k: round(v - base, 2) for k, v in commit_ms.items() if k != "no_hook"}
        # machine-independent view: overhead counted in bare Python starts (`python -I -S -c pass`, interleaved)
        figures["commit_overhead_in_python_starts"] = {
            k: round(v / figures["python_startup_ms"], 2) for k, v in commit_over.items()}  # type: ignore[operator]
        figures["commit_ms"] = commit_ms
        figures["commit_overhead_ms"] = commit_over
        ratio = round(commit_over["metawsm_nothing_to_check"] / commit_over["bare_python_hook"], 2)
        figures["nothing_to_check_vs_bare_python"] = ratio
        figures["nothing_to_check_vs_floor"] = round(
            commit_over["metawsm_nothing_to_check"] / floors["python_I_S_pass"], 2)
        hooks.set("pre-commit", hooks.ours["pre-commit"])

        figures.update(bench_push(root, hooks, tmp, args.runs))
        push_over = figures.get("push_overhead_ms") or {}
        figures["targets"] = {
            "nothing_to_check_ratio_max": 1.6, "plan_staged_overhead_ms_max": 120, "pre_push_overhead_ms_max": 60}
        figures["met"] = {
            "nothing_to_check_ratio": ratio <= 1.6,
            "plan_staged_overhead": commit_over["metawsm_plan_staged"] <= 120,
            "pre_push_overhead": (push_over["metawsm_gate_ticket_branch"] <= 60  # type: ignore[index]
                                  if push_over else None),
        }
        figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    emit("hooks", figures)


def bench_push(root: Path, hooks: Hooks, tmp: Path, runs: int) -> dict[str, object]:
    if shutil.which("tmux") is None:
        return {"push_ms": None, "push_note": "tmux is not installed: no run to gate"}
    metawsm(root, "apply", "plans/demo.yaml", "--wait", "--timeout", "240", timeout=300)
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "--no-verify", "origin", "main")
    ticket_push = ["git", "push", "-q", "--dry-run", "origin", "metawsm/DEMO-1"]
    other_push = ["git", "push", "-q", "--dry-run", "origin", "main:refs/heads/feature/x"]
    ours = hooks.ours["pre-push"]

    def nothing(_i: int) -> None:
        pass

    configs = {
        "no_hook": (lambda: hooks.set("pre-push", None), nothing, ticket_push),
        "bare_python_hook": (lambda: hooks.set("pre-push", BARE_HOOK), nothing, ticket_push),
        "metawsm_gate_ticket_branch": (lambda: hooks.set("pre-push", ours), nothing, ticket_push),
        "metawsm_other_branch": (lambda: hooks.set("pre-push", ours), nothing, other_push),
    }
    times = round_robin(configs, runs, root)
    ms = {k: median_ms(v) for k, v in times.items()}
    over = {k: round(v - ms["no_hook"], 2) for k, v in ms.items() if k != "no_hook"}
    return {"push_ms": ms, "push_overhead_ms": over}


if __name__ == "__main__":
    sys.exit(main())
