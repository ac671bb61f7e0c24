"""Runtime backends (issue 19), side by side in one run: N shell agents (`sleep 600`) started by
`metawsm apply` on `local` (tmux here) and on `docker` (one container per ticket), and the raw floor measured
in the same run: N times `docker run -d` + `docker exec … tmux new-session` of the same image, as a script
would do it (sequentially, and with the same 8 commands in flight metawsm uses).

Figures: per backend, the time from `apply`'s start to the last agent entering `running` (the run's own audit
row, written once the agent's command was launched) and the whole `apply` wall time; what docker adds to the
same apply on local, against the parallel floor (target: <= 1.5x); per-agent memory overhead: on docker the
containers' cgroup memory (tini, tmux, shells, the agent's sleep) per agent, on local the RSS of the tmux
server and its descendants per agent.

The ssh backend (a private sshd on 127.0.0.1 with throwaway keys, tests/backends/sshd.py, stopped by pid): N
agents by `apply` with `runtime.backend: ssh` (one host, N slots), against its raw floor in the same run: N times
`ssh host tmux new-session -d … 'sleep 600'`, each with a new connection and all over one shared ControlMaster
connection; memory per agent is the RSS of the host's tmux server and its descendants.

The swarm backend (bench/_backends_swarm.py, run from here): N agents on a two-node swarm of the tests' own (two
dockerd in network namespaces), against `docker service create` + `docker exec … tmux new-session` measured in
the same run.

Needs root, dockerd and docker (it starts its own daemon: own data root, exec root, pidfile and socket, no
bridge, stopped by pid) and the base image's root filesystem tarball (built by `metawsm image build` into the
tests' cache, METAWSM_TEST_CACHE or $TMPDIR/metawsm-tests-cache; built here when missing). Without them it prints
{"skipped": reason} and exits 0 (bench/run_all.py reports the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import ROOT, emit, metawsm_exe, precompile
from apply import git, kill_server  # the same helpers as bench/apply.py

TAG = "metawsm-bench:latest"
PLAN_NAME = "bench"
CACHE = Path(os.environ.get("METAWSM_TEST_CACHE") or Path(tempfile.gettempdir()) / "metawsm-tests-cache") / "images"


def why_not() -> str | None:
    for tool in ("dockerd", "docker", "debootstrap", "tmux"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs docker.io and debootstrap)"
    return "needs root (dockerd, debootstrap)" if os.geteuid() != 0 else None


class Daemon:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.host = f"unix://{base / 'docker.sock'}"
        self.log = (base / "dockerd.log").open("wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "--pidfile",
             str(base / "docker.pid"), "-H", self.host, "--bridge=none", "--iptables=false",
             "--containerd-namespace", f"mwb{os.getpid()}", "--containerd-plugins-namespace", f"mwbp{os.getpid()}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"dockerd did not start: {(base / 'dockerd.log').read_text()[-1500:]}")
            time.sleep(0.1)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, check=check,
                              timeout=300)

    def stop(self) -> None:
        names = self.docker("ps", "-aq", check=False).stdout.split()
        if names:
            self.docker("rm", "-f", *names, check=False)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def make_repo(root: Path, tickets: int, socket: str, policy: str) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "--allow-empty",
        "-m", "init")
    subprocess.run([*metawsm_exe(), "-C", str(root), "init", "--demo"], check=True, stdout=subprocess.DEVNULL)
    ids = [f"B-{i:03d}" for i in range(1, tickets + 1)]
    for tid in ids:
        (root / "tickets" / f"{tid}.yaml").write_text(f"id: {tid}\ntitle: Bench ticket {tid}\n", encoding="utf-8")
    (root / "plans" / f"{PLAN_NAME}.yaml").write_text(
        f"name: {PLAN_NAME}\ntickets: [{', '.join(ids)}]\n"
        "agents:\n  - {name: sleeper, profile: shell, run: \"sleep 600\"}\n", encoding="utf-8")
    with (root / ".metawsm" / "policy.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"tmux: {{socket_name: {socket}}}\nexecution: {{max_parallel: {tickets}}}\n{policy}")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "bench")


def apply(root: Path) -> tuple[float, float, int]:
    """(apply wall seconds, seconds from apply's start to the last agent entering `running` — the audit row
    written once its command was launched in its session —, agents running)."""
    started = time.time()
    t0 = time.perf_counter()
    subprocess.run([*metawsm_exe(), "-C", str(root), "--json", "apply", f"plans/{PLAN_NAME}.yaml"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    sys.path.insert(0, str(ROOT))
    from metawsm.state import StateStore

    with StateStore(root / ".metawsm" / "state" / "state.db") as store:
        run = store.list_runs(plan_name=PLAN_NAME, limit=1)[0]
        running = [t.at for t in store.audit(run.run_id, entity="agent", limit=None) if t.to_state == "running"]
    return wall, max(running) - started, len(running)


def cleanup(root: Path) -> None:
    subprocess.run([*metawsm_exe(), "-C", str(root), "cleanup", "--force"], check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def rss_kib(pids: set[int]) -> int:
    """RSS of ``pids`` and all their descendants (KiB)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    keep = set(pids)
    changed = True
    while changed:
        changed = False
        for pid, ppid, _ in rows:
            if ppid in keep and pid not in keep:
                keep.add(pid)
                changed = True
    return sum(rss for pid, _, rss in rows if pid in keep)


def memory_mib(stats: str) -> float:
    """`docker stats` MemUsage ("12.3MiB / 1GiB") → MiB."""
    used = stats.split("/")[0].strip()
    for unit, factor in (("GiB", 1024.0), ("MiB", 1.0), ("KiB", 1 / 1024), ("B", 1 / 2**20)):
        if used.endswith(unit):
            return float(used[: -len(unit)]) * factor
    return 0.0


def floor(d: Daemon, n: int, workers: int) -> float:
    """N containers each with a tmux session running sleep: docker run -d + docker exec tmux new-session."""
    def one(i: int) -> None:
        name = f"floor-{workers}-{i}"
        d.docker("run", "-d", "--init", "--network", "none", "--name", name, TAG, "sleep", "infinity")
        d.docker("exec", name, "tmux", "-L", "m", "new-session", "-d", "-s", "s", "sleep 600")

    t0 = time.perf_counter()
    if workers == 1:
        for i in range(n):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - t0
    names = d.docker("ps", "-aq").stdout.split()
    d.docker("rm", "-f", *names)
    return elapsed


def ssh_why_not() -> str | None:
    sys.path.insert(0, str(ROOT))
    from tests.backends.sshd import missing

    return missing()


def ssh_floor(server: Any, n: int, tmp: Path) -> dict[str, float]:
    """The raw floor of the ssh backend: N times `ssh host tmux new-session -d … 'sleep 600'` as a script would do
    it — each with a new connection, and all over one ControlMaster connection (what metawsm keeps open)."""
    base = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={server.known_hosts}",
            "-i", str(server.key), "-p", str(server.port)]
    shared = [*base, "-o", "ControlMaster=auto", "-o", f"ControlPath={tmp}/cm-%C", "-o", "ControlPersist=60"]
    figures: dict[str, float] = {}
    for label, argv in (("new_connection_s", base), ("shared_connection_s", shared)):
        sock = tmp / f"floor-{label}.sock"
        t0 = time.perf_counter()
        for i in range(n):
            subprocess.run([*argv, f"{server.user}@127.0.0.1", "--",
                            f"tmux -S {sock} new-session -d -s s{i} 'sleep 600'"], check=True, timeout=60)
        figures[label] = round(time.perf_counter() - t0, 3)
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], check=False, capture_output=True)
    subprocess.run([*shared, "-O", "exit", f"{server.user}@127.0.0.1"], check=False, capture_output=True)
    return figures


def ssh_policy(server: Any, workdir: Path, control: Path, n: int) -> str:
    host = {"name": "h1", "address": "127.0.0.1", "port": server.port, "user": server.user, "key": str(server.key),
            "workdir": str(workdir), "slots": n}
    return "runtime: " + json.dumps({"backend": "ssh", "ssh": {
        "hosts": [host], "known_hosts": str(server.known_hosts), "control_dir": str(control),
        "path": str(Path(sys.executable).parent),
        "env": ["HOME", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"]}}) + "\n"


def run_ssh(n: int, socket: str) -> dict[str, object]:
    """The ssh backend against a private sshd on 127.0.0.1 (the tests' own, tests/backends/sshd.py)."""
    from tests.backends.sshd import running

    tmp = Path(tempfile.mkdtemp(prefix="mwbs-", dir="/tmp"))
    root = tmp / "ssh"
    try:
        with running(tmp / "sshd") as server:
            floor_s = ssh_floor(server, n, tmp)
            control = tmp / "cm"
            make_repo(root, n, f"{socket}-ssh", ssh_policy(server, tmp / "remote", control, n))
            try:
                wall, to_running, running_n = apply(root)
                if running_n != n:
                    raise SystemExit(f"bench: {running_n} of {n} agents running on ssh")
                sock = next((tmp / "remote").glob("*/tmux.sock"))
                pids = subprocess.run(["tmux", "-S", str(sock), "display-message", "-p", "#{pid}"],
                                      capture_output=True, text=True).stdout.split()
                per_agent = rss_kib({int(p) for p in pids}) / 1024 / n
            finally:
                cleanup(root)
        return {"apply_wall_s": round(wall, 3), "apply_to_running_s": round(to_running, 3),
                "memory_per_agent_mib": round(per_agent, 2), "agents_running": running_n,
                "floor": floor_s, "vs_floor_new_connection": round(to_running / floor_s["new_connection_s"], 3),
                "vs_floor_shared_connection": round(to_running / floor_s["shared_connection_s"], 3)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 agents")
    args = parser.parse_args()
    n = 4 if args.quick else args.agents
    reason, ssh_reason = why_not(), ssh_why_not()
    if reason and ssh_reason:
        sys.stdout.write(json.dumps({"bench": "backends", "skipped": f"{reason}; {ssh_reason}"}) + "\n")
        return 0
    precompile()
    if reason:  # no docker here: the ssh backend alone
        emit("backends", {"agents": n, "docker_skipped": reason, "ssh": run_ssh(n, f"mwbench-ssh-{os.getpid()}")})
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="mwbb-", dir="/tmp"))
    daemon = Daemon(tmp)
    socket = f"mwbench-backends-{os.getpid()}"
    roots: list[Path] = []
    try:
        built = subprocess.run([*metawsm_exe(), "image", "build", "--tag", TAG, "--cache-dir", str(CACHE),
                                "--docker-host", daemon.host, "--json"], capture_output=True, text=True, cwd="/",
                               check=True)
        image = json.loads(built.stdout)
        figures: dict[str, object] = {"agents": n, "image_reused_rootfs": image["reused_rootfs"]}
        floor_seq = floor(daemon, n, 1)
        floor_par = floor(daemon, n, 8)
        for backend in ("local", "docker"):
            root = tmp / backend
            roots.append(root)
            policy = "" if backend == "local" else (
                f"runtime:\n  backend: docker\n  docker: {{host: '{daemon.host}', image: '{TAG}', network: none}}\n")
            make_repo(root, n, f"{socket}-{backend}", policy)
            wall, to_running, running = apply(root)
            if running != n:
                raise SystemExit(f"bench: {running} of {n} agents running on {backend}")
            if backend == "docker":
                stats = daemon.docker("stats", "--no-stream", "--format", "{{.MemUsage}}").stdout.splitlines()
                per_agent = sum(memory_mib(s) for s in stats) / n
            else:
                pids = subprocess.run(["tmux", "-L", f"{socket}-{backend}", "display-message", "-p", "#{pid}"],
                                      capture_output=True, text=True).stdout.split()
                per_agent = rss_kib({int(p) for p in pids}) / 1024 / n
            figures[backend] = {"apply_wall_s": round(wall, 3), "apply_to_running_s": round(to_running, 3),
                                "memory_per_agent_mib": round(per_agent, 2), "agents_running": running}
            cleanup(root)
        local_s, docker_s = (figures[b]["apply_to_running_s"] for b in ("local", "docker"))  # type: ignore[index]
        figures["floor"] = {"sequential_s": round(floor_seq, 3), "parallel_8_s": round(floor_par, 3)}
        # what docker adds to the same apply on local, against what the raw containers + tmux cost
        figures["docker_added_s"] = round(docker_s - local_s, 3)
        figures["docker_added_vs_floor"] = round((docker_s - local_s) / floor_par, 3)
        figures["docker_vs_local"] = round(docker_s / local_s, 3)
        if ssh_reason:
            figures["ssh_skipped"] = ssh_reason
        else:  # ssh + tmux on a private sshd on 127.0.0.1, its raw floor measured in the same run
            figures["ssh"] = ssh = run_ssh(n, socket)
            figures["ssh_vs_local"] = round(ssh["apply_to_running_s"] / local_s, 3)  # type: ignore[operator]
        import _backends_swarm as backends_swarm  # the swarm row: two nodes, its raw floor measured in the same run

        why = backends_swarm.why_not()
        figures["swarm" if not why else "swarm_skipped"] = why or backends_swarm.run_swarm(n, socket, local_s)
    finally:
        for root in roots:
            cleanup(root)
        for backend in ("local", "docker"):
            kill_server(f"{socket}-{backend}")
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    emit("backends", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
