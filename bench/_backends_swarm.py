"""The swarm row of bench/backends.py: N shell agents (`sleep 600`) started by `metawsm apply` with
`runtime.backend: swarm` on a two-node swarm of the tests' own (two dockerd in two network namespaces on this
machine, tests/backends/swarmd.py; no placement rules, N slots per node, so the agents spread over both nodes),
against its raw floor measured in the same run: N times `docker service create -d` (pinned to the nodes in turn,
restart condition none), waiting on the node's daemon until the task's container runs, then `docker exec …
tmux new-session -d … 'sleep 600'` in it — as a script would do it, with the same 8 commands in flight metawsm
uses. Memory per agent: the service containers' cgroup memory (`docker stats` on both nodes) per agent.

Run alone: `python bench/_backends_swarm.py [--agents N]` (root, dockerd, ip, nsenter; the base image's rootfs
tarball in the tests' cache, built by `metawsm image build` when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import ROOT, emit, metawsm_exe, precompile

TAG = "metawsm-bench:latest"
CACHE = Path(os.environ.get("METAWSM_TEST_CACHE") or Path(tempfile.gettempdir()) / "metawsm-tests-cache") / "images"


def why_not() -> str | None:
    sys.path.insert(0, str(ROOT))
    from tests.backends.swarmd import missing

    return missing()


def _docker(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, check=True, timeout=300)


def floor(nodes: list[tuple[str, str]], n: int, workers: int = 8) -> float:
    """N pinned services, each waited for on its node and given a tmux session running sleep (seconds)."""
    manager = nodes[0][1]

    def one(i: int) -> None:
        node_id, host = nodes[i % len(nodes)]
        name = f"floor-{i}"
        _docker(manager, "service", "create", "-d", "-q", "--name", name, "--no-resolve-image", "--replicas", "1",
                "--restart-condition", "none", "--constraint", f"node.id=={node_id}", "--init", TAG,
                "sleep", "infinity")
        deadline = time.monotonic() + 120
        while not (found := _docker(host, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={name}",
                                    "--filter", "status=running").stdout.split()):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: floor service {name} did not run")
            time.sleep(0.05)
        _docker(host, "exec", found[0], "tmux", "-L", "m", "new-session", "-d", "-s", "s", "sleep 600")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - t0
    services = _docker(manager, "service", "ls", "-q").stdout.split()
    _docker(manager, "service", "rm", *services)
    for _, host in nodes:
        names = _docker(host, "ps", "-aq").stdout.split()
        if names:
            subprocess.run(["docker", "-H", host, "rm", "-f", *names], capture_output=True, timeout=300)
    return elapsed


def run_swarm(n: int, socket: str, local_s: float | None = None) -> dict[str, object]:
    """apply → agents running for N agents on a two-node swarm, beside its raw floor (same run); with ``local_s``
    (the same apply on local, same run) also what swarm adds over local against that floor."""
    sys.path.insert(0, str(ROOT))
    from apply import kill_server
    from backends import apply, cleanup, make_repo, memory_mib

    from tests.backends.swarmd import swarm_for_tests

    def build(node: object) -> list[str]:
        return [*metawsm_exe(), "image", "build", "--tag", TAG, "--cache-dir", str(CACHE), "--docker-host",
                node.host, "--json"]  # type: ignore[attr-defined]

    with swarm_for_tests(build) as swarm, tempfile.TemporaryDirectory(prefix="mwbw-", dir="/tmp") as tmp:
        nodes = [(_docker(node.host, "info", "--format", "{{.Swarm.NodeID}}").stdout.strip(), node.host)
                 for node in swarm.nodes]
        floor_s = floor(nodes, n)
        root = Path(tmp) / "swarm"
        policy = "runtime: " + json.dumps({"backend": "swarm", "swarm": {
            "image": TAG, "nodes": [{"name": node.name, "host": node.host, "slots": n} for node in swarm.nodes]}})
        make_repo(root, n, f"{socket}-swarm", policy + "\n")
        try:
            wall, to_running, running = apply(root)
            if running != n:
                raise SystemExit(f"bench: {running} of {n} agents running on swarm")
            per_node = {node.name: len(node.containers("label=metawsm.repo", "status=running")) for node in swarm.nodes}
            stats = [line for node in swarm.nodes for line in node.docker(
                "stats", "--no-stream", "--format", "{{.MemUsage}}").stdout.splitlines()]
            per_agent = sum(memory_mib(s) for s in stats) / n
        finally:
            cleanup(root)
            kill_server(f"{socket}-swarm")
        left = swarm.services() + [c for names in swarm.containers().values() for c in names]
        if left:
            raise SystemExit(f"bench: cleanup left {left} behind on the swarm")
    figures: dict[str, object] = {
        "apply_wall_s": round(wall, 3), "apply_to_running_s": round(to_running, 3),
        "memory_per_agent_mib": round(per_agent, 2), "agents_running": running, "agents_per_node": per_node,
        "floor_parallel_8_s": round(floor_s, 3), "vs_floor": round(to_running / floor_s, 3)}
    if local_s is not None:
        figures["added_s"] = round(to_running - local_s, 3)
        figures["added_vs_floor"] = round((to_running - local_s) / floor_s, 3)
    return figures


def local_apply(n: int, socket: str) -> float:
    """apply → agents running for the same N agents on local (seconds)."""
    from apply import kill_server
    from backends import apply, cleanup, make_repo

    with tempfile.TemporaryDirectory(prefix="mwbl-", dir="/tmp") as tmp:
        root = Path(tmp) / "local"
        make_repo(root, n, f"{socket}-local", "")
        try:
            return apply(root)[1]
        finally:
            cleanup(root)
            kill_server(f"{socket}-local")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 agents")
    args = parser.parse_args()
    reason = why_not()
    if reason:
        sys.stdout.write(json.dumps({"bench": "backends_swarm", "skipped": reason}) + "\n")
        return 0
    precompile()
    n = 4 if args.quick else args.agents
    socket = f"mwbench-{os.getpid()}"
    local_s = local_apply(n, socket)
    emit("backends_swarm", {"agents": n, "local_apply_to_running_s": round(local_s, 3),
                            "swarm": run_swarm(n, socket, local_s)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
