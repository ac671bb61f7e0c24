"""Docker Swarm as the swarm backend uses it: settings, the `docker service create` command line, and the
docker calls to the manager (services) and to each node's own daemon (its task containers; exec).

A service runs one task (`--replicas 1`, `--restart-condition none`: a task that ends stays ended — swarm's
default would start it again forever), pinned to the node metawsm chose (`--constraint node.id==…`), detached
(`-d`: metawsm waits for the task's container itself, on that node's daemon). No registry is involved
(`--no-resolve-image`): the image must be on every node.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.docker_cli import LABEL, DockerCli
from metawsm.runtime.docker_run import bind, placement
from metawsm.runtime.settings import SwarmSettings

START_TIMEOUT = 120.0  # seconds for a new service's task to run (image start on a loaded node)
POLL_SECONDS = 0.1  # between looks at a node's running containers while waiting for new tasks
_FIELDS = ("repo", "home", "run", "ticket", "agent", "session", "node")
_PS_FORMAT = "\t".join(["{{.Names}}", "{{.State}}", *(f'{{{{.Label "{LABEL}{k}"}}}}' for k in _FIELDS)])


@dataclass(frozen=True)
class Task:
    """A container of one of this repository's services, as its node's daemon lists it."""

    node: str  # the policy's node name
    container: str
    running: bool
    labels: Mapping[str, str]

    @property
    def service(self) -> str:
        return self.container.split(".", 1)[0]


def service_name(scope: str, session: str) -> str:
    """A valid, unique service name for ``session`` (a DNS label: letters, digits and '-', at most 63)."""
    clean = re.sub(r"[^A-Za-z0-9-]+", "-", session).strip("-")
    name = f"mw-{scope}-{clean}"
    if clean != session or len(name) > 63:
        digest = hashlib.sha256(session.encode()).hexdigest()[:8]
        name = f"mw-{scope}-{clean[:40].strip('-')}-{digest}".replace("--", "-")
    return name


def create_args(settings: SwarmSettings, name: str, node_id: str, labels: Mapping[str, str], spec: SessionSpec,
                home: str) -> list[str]:
    """The arguments of `docker service create` (after the client and its -H) for ``spec`` on ``node_id``."""
    argv = ["service", "create", "-d", "-q", "--name", name, "--no-resolve-image", "--replicas", "1",
            "--restart-condition", "none", "--constraint", f"node.id=={node_id}", "--init",
            "--stop-grace-period", "2s"]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{LABEL}{key}={value}", "--container-label", f"{LABEL}{key}={value}"]
    argv += ["--user", settings.user or f"{os.getuid()}:{os.getgid()}"]
    if settings.network:
        argv += ["--network", settings.network]
    if settings.cpus:
        argv += ["--limit-cpu", f"{settings.cpus:g}"]
    if settings.memory:
        argv += ["--limit-memory", settings.memory]
    if settings.pids:
        argv += ["--limit-pids", str(settings.pids)]
    plan = placement(spec, home, mount_metawsm=settings.mount_metawsm, into="a service")
    for path in plan.writable:
        argv += bind(path, into="a service")
    for path in plan.readonly:
        argv += bind(path, readonly=True, into="a service")
    for key, value in plan.env.items():
        argv += ["--env", f"{key}={value}"]
    for secret in settings.env:
        if secret in os.environ:
            argv += ["--env", secret]  # by name: the client reads the value from its own environment
    return [*argv, "--workdir", spec.cwd, settings.image, "sleep", "infinity"]


class SwarmCli:
    """The manager's daemon (services) and each node's own daemon (task containers, exec)."""

    def __init__(self, settings: SwarmSettings) -> None:
        self.settings = settings
        manager = settings.manager or (settings.nodes[0].host if settings.nodes else "")
        self.manager = DockerCli(settings.cli, manager)
        self.nodes = {n.name: n for n in settings.nodes}
        self.daemons = {n.name: DockerCli(settings.cli, n.host) for n in settings.nodes}
        self._node_ids: dict[str, str] = {}

    def node_id(self, node: str) -> str:
        """The swarm node id of ``node`` (asked of its own daemon once): services are pinned to it."""
        if node not in self._node_ids:
            out = self.daemons[node].run("info", "--format", "{{.Swarm.NodeID}}\t{{.Swarm.LocalNodeState}}",
                                         timeout=30).stdout.strip()
            node_id, _, state = out.partition("\t")
            if state != "active" or not node_id:
                raise ExternalError(f"swarm node {node} ({self.daemons[node].describe()}) is not in a swarm "
                                    f"(state {state or 'unknown'})", hint="join it: docker swarm join …")
            self._node_ids[node] = node_id
        return self._node_ids[node]

    def tasks(self, node: str, *, repo: str | None = None, all_states: bool = False) -> list[Task]:
        """The metawsm task containers on ``node`` (of repository ``repo``; running only unless ``all_states``)."""
        filters = [f"--filter=label={LABEL}repo" + (f"={repo}" if repo else "")]
        if not all_states:
            filters.append("--filter=status=running")
        out = self.daemons[node].run("ps", *(["-a"] if all_states else []), "--no-trunc", *filters,
                                     "--format", _PS_FORMAT).stdout
        found = []
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 + len(_FIELDS):
                found.append(Task(node, parts[0], parts[1] == "running",
                                  {k: v for k, v in zip(_FIELDS, parts[2:], strict=True) if v}))
        return found

    def services(self, repo: str, **labels: str) -> list[str]:
        """This repository's services carrying ``labels``, from one query to the manager."""
        filters = [f"--filter=label={LABEL}{k}={v}" for k, v in {"repo": repo, **labels}.items()]
        return self.manager.run("service", "ls", *filters, "--format", "{{.Name}}").stdout.split()

    def create(self, argv: Sequence[str]) -> bool:
        """`docker service create …`; False when a service of that name exists (another metawsm process of
        this repository made it meanwhile: it is waited for like ours, and never removed as ours)."""
        result = self.manager.run(*argv, check=False, timeout=60)
        if result.code == 0:
            return True
        if "AlreadyExists" in result.stderr or "already exists" in result.stderr:
            return False
        raise ExternalError(f"cannot create swarm service: {proc.tail(result.stderr)}",
                            hint="check runtime.swarm in the policy (manager, nodes, image)")

    def remove(self, services: Sequence[str], tasks: Sequence[Task] = ()) -> None:
        """Remove services and their task containers (swarm removes those itself, later: done here at once)."""
        if services:
            result = self.manager.run("service", "rm", *services, check=False, timeout=60)
            if result.code != 0 and "not found" not in result.stderr:
                raise ExternalError(f"cannot remove services {', '.join(services)}: {proc.tail(result.stderr)}")
        by_node: dict[str, list[str]] = {}
        for task in tasks:
            by_node.setdefault(task.node, []).append(task.container)
        for node, containers in by_node.items():
            result = self.daemons[node].run("rm", "-f", *containers, check=False, timeout=60)
            bad = [line for line in result.stderr.splitlines()
                   if line.strip() and "No such container" not in line and "already in progress" not in line]
            if result.code != 0 and bad:
                raise ExternalError(f"cannot remove containers {', '.join(containers)} on node {node}: "
                                    + proc.tail(result.stderr))

    def failures(self, services: Sequence[str]) -> dict[str, str]:
        """Services among ``services`` whose task will not run (rejected, failed, ended), with swarm's reason."""
        if not services:
            return {}
        result = self.manager.run("service", "ps", "--no-trunc", "--filter", "desired-state=shutdown", "--format",
                                  "{{.Name}}\t{{.CurrentState}}\t{{.Error}}", *services, check=False, timeout=30)
        failed = {}
        for line in result.stdout.splitlines():
            name, _, rest = line.partition("\t")
            state, _, error = rest.partition("\t")
            failed[name.rsplit(".", 1)[0]] = f"{state}: {error}".strip(": ")
        return failed

    def wait_running(self, wanted: Mapping[str, str | None], repo: str,
                     timeout: float = START_TIMEOUT) -> dict[str, Task]:
        """Wait until each service of ``wanted`` (service → node, None: any node) has a running container on its
        node; returns them by service. A task swarm rejected or that ended is an ExternalError naming swarm's
        reason."""
        deadline = time.monotonic() + timeout
        found: dict[str, Task] = {}
        polls = 0
        while True:
            nodes = {wanted[s] for s in wanted if s not in found}
            for node in self.nodes if None in nodes else nodes:
                for task in self.tasks(str(node), repo=repo):
                    if task.service in wanted and wanted[task.service] in (node, None):
                        found[task.service] = task
            missing = [s for s in wanted if s not in found]
            if not missing:
                return found
            polls += 1
            failed = self.failures(missing) if polls % 10 == 0 else {}  # swarm's verdict about once a second
            if failed:
                raise ExternalError("swarm did not run " + "; ".join(f"{s} ({why})" for s, why in failed.items()),
                                    hint="is the image on every node? (`metawsm image build --docker-host` there)")
            if time.monotonic() > deadline:
                raise ExternalError(f"swarm did not run {', '.join(missing)} within {timeout:g}s "
                                    f"(`{' '.join(self.manager.base)} service ps {missing[0]}` says why)")
            time.sleep(POLL_SECONDS)
