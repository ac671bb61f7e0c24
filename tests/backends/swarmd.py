"""A two-node Docker Swarm of the tests' own, on this one machine: two dockerd, each in a network namespace of
its own (made with `ip netns add`, the daemon started with `nsenter --net=…` — `ip netns exec` would also hide
the cgroup mounts from dockerd), the namespaces joined by a veth pair (198.18.0.1 and .2, a benchmark range:
nothing else sees it). Each daemon has its own data root, exec root, pidfile, containerd namespaces and unix
socket under a temporary folder; the first node inits the swarm, the second joins it. On exit every service and
container is removed, both daemons are stopped by pid and both namespaces (and with them the veth pair) deleted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_SECONDS = 60.0
TOOLS = ("dockerd", "docker", "ip", "nsenter", "tmux", "git")


@dataclass(frozen=True)
class Node:
    name: str
    host: str  # unix:///…/docker.sock
    pid: int
    netns: str
    address: str

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, check=check,
                              timeout=timeout)

    def containers(self, *filters: str) -> list[str]:
        """Names of the containers (any state) matching the filters."""
        return self.docker("ps", "-a", *(f"--filter={f}" for f in filters), "--format", "{{.Names}}").stdout.split()


@dataclass(frozen=True)
class Swarm:
    nodes: tuple[Node, ...]

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def services(self, *filters: str) -> list[str]:
        return self.manager.docker("service", "ls", *(f"--filter={f}" for f in filters),
                                   "--format", "{{.Name}}").stdout.split()

    def containers(self, *filters: str) -> dict[str, list[str]]:
        """Containers (any state) of each node matching the filters, by node name (nodes with none left out)."""
        found = {node.name: node.containers(*filters) for node in self.nodes}
        return {name: names for name, names in found.items() if names}


def missing() -> str | None:
    """Why the swarm tests cannot run here (None: they can)."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs docker.io and iproute2)"
    if os.geteuid() != 0:
        return "dockerd and network namespaces need root; run the swarm tests as root, as CI does"
    return None


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=60)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class CannotRun(Exception):
    """The machine cannot run the swarm (a namespace or a daemon would not start): the tests skip with this."""


@contextmanager
def running(base: Path) -> Iterator[Swarm]:
    """Two dockerd in two network namespaces, in one swarm (node n1 the manager); everything stopped on exit."""
    tag = secrets.token_hex(3)
    spaces = [f"mwsw{tag}{i}" for i in (1, 2)]
    addresses = ["198.18.0.1", "198.18.0.2"]
    procs: list[subprocess.Popen[bytes]] = []
    nodes: list[Node] = []
    made: list[str] = []
    try:
        for space in spaces:
            result = _run("ip", "netns", "add", space)
            if result.returncode != 0:
                raise CannotRun(f"cannot make a network namespace: {result.stderr.strip()}")
            made.append(space)
        veth = (f"mwsw{tag}a", f"mwsw{tag}b")
        for argv in (["ip", "link", "add", veth[0], "netns", spaces[0], "type", "veth", "peer", "name", veth[1],
                      "netns", spaces[1]],
                     *(["ip", "-n", space, "addr", "add", f"{address}/30", "dev", dev]
                       for space, address, dev in zip(spaces, addresses, veth, strict=True)),
                     *(["ip", "-n", space, "link", "set", dev, "up"] for space, dev in zip(spaces, veth, strict=True)),
                     *(["ip", "-n", space, "link", "set", "lo", "up"] for space in spaces)):
            result = _run(*argv)
            if result.returncode != 0:
                raise CannotRun(f"{' '.join(argv)}: {result.stderr.strip()}")
        for index, (space, address) in enumerate(zip(spaces, addresses, strict=True), start=1):
            root = base / f"n{index}"
            root.mkdir(parents=True)
            with (root / "dockerd.log").open("wb") as log:  # the child keeps its own copy of the descriptor
                procs.append(subprocess.Popen(
                    ["nsenter", f"--net=/run/netns/{space}", "dockerd", "--data-root", str(root / "data"),
                     "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"),
                     "-H", f"unix://{root / 'docker.sock'}", "--bridge=none", "--iptables=false",
                     "--containerd-namespace", f"mwsw{tag}{index}", "--containerd-plugins-namespace",
                     f"mwswp{tag}{index}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            nodes.append(Node(f"n{index}", f"unix://{root / 'docker.sock'}", procs[-1].pid, space, address))
        deadline = time.monotonic() + START_SECONDS
        for node, proc in zip(nodes, procs, strict=True):
            while node.docker("version", check=False, timeout=10).returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = (base / node.name / "dockerd.log").read_text(errors="replace")[-2000:]
                    raise CannotRun(f"dockerd of node {node.name} cannot run here (exit {proc.poll()}): {log_text}")
                time.sleep(0.1)
        first, second = nodes
        first.docker("swarm", "init", "--advertise-addr", first.address, "--listen-addr", f"{first.address}:2377")
        token = first.docker("swarm", "join-token", "-q", "worker").stdout.strip()
        second.docker("swarm", "join", "--token", token, "--advertise-addr", second.address,
                      "--listen-addr", f"{second.address}:2377", f"{first.address}:2377")
        yield Swarm(tuple(nodes))
    finally:
        if nodes:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                services = nodes[0].docker("service", "ls", "-q", check=False, timeout=30).stdout.split()
                if services:
                    nodes[0].docker("service", "rm", *services, check=False, timeout=60)
            for node in nodes:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    names = node.docker("ps", "-aq", check=False, timeout=30).stdout.split()
                    if names:
                        node.docker("rm", "-f", *names, check=False, timeout=60)
        for proc in procs:
            _stop(proc)
        for space in made:
            _run("ip", "netns", "del", space)  # the veth pair goes with its namespaces


@contextmanager
def _tmpfs(path: Path) -> Iterator[None]:
    """A tmpfs on ``path`` while in use: the daemons' data roots (two copies of the image, ~25,000 files) go
    with one umount instead of a minute of deleting files on a busy disk."""
    mounted = _run("mount", "-t", "tmpfs", "-o", "size=3g,mode=0700", "tmpfs", str(path)).returncode == 0
    try:
        yield
    finally:
        if mounted and _run("umount", str(path)).returncode != 0:
            _run("umount", "-l", str(path))


@contextmanager
def swarm_for_tests(build_image: Callable[[Node], list[str]]) -> Iterator[Swarm]:
    """:func:`running` in a temporary folder, with the image that ``build_image(node)`` (an argv) puts on each
    node, run for both nodes at once (no registry: each node needs the image itself)."""
    with tempfile.TemporaryDirectory(prefix="mwswarm-", dir="/tmp") as base, _tmpfs(Path(base)), \
            running(Path(base)) as swarm:
        builds = [subprocess.Popen(build_image(node), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
                  for node in swarm.nodes]
        for node, proc in zip(swarm.nodes, builds, strict=True):
            out, err = proc.communicate(timeout=1500)
            if proc.returncode != 0:
                raise RuntimeError(f"cannot put the image on {node.name}: {out.decode()[-2000:]}{err.decode()[-2000:]}")
        yield swarm
