"""The `swarm` Runtime: each agent session is a tmux session inside the one container of a Docker Swarm service
of its own, on a node metawsm chooses (policy `runtime.swarm`: nodes with their docker hosts, labels and slots;
placement rules).

Swarm schedules and keeps the service; it has no exec, so everything done inside the container (tmux: start,
list, capture, type, attach) goes to the chosen node's own daemon (``docker -H <node host> exec``). Services
and their containers carry ``metawsm.*`` labels (repo, home, run, ticket, agent, session, node); the tmux
session inside carries the attempt too (a service's spec is never updated after it is made: `docker service
update` may replace the running task). A repository only ever sees, adopts and removes its own. A service's
task that ends (its container killed) stays ended — restart condition none — so the agent is dead, and the
operator's restart makes the service again. The worktree, the repository and metawsm are bind-mounted at
their own paths, as on the docker backend: every node must see them there.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from metawsm.errors import ExternalError
from metawsm.runtime.base import (
    ForeignSession,
    NoCapacity,
    RuntimeConfig,
    SessionInfo,
    SessionSpec,
    SessionState,
)
from metawsm.runtime.docker_cli import SOCKET, ContainerTmux
from metawsm.runtime.fanout import InnerTmuxIO, parallel
from metawsm.runtime.settings import SwarmSettings
from metawsm.runtime.swarm_cli import SwarmCli, Task, create_args, service_name
from metawsm.runtime.swarm_place import choose
from metawsm.runtime.tmux_panes import PaneInfo


class SwarmRuntime(InnerTmuxIO):
    """Agent sessions of one repository in Docker Swarm services, one service per session."""

    backend = "swarm"

    def __init__(self, config: RuntimeConfig) -> None:
        self.scope, self.home = config.scope or "default", config.home
        self.settings = SwarmSettings.of(config.settings)
        self.swarm = SwarmCli(self.settings)
        self._located: dict[str, Task] = {}  # session → its service's running container, from the last sessions()

    def describe(self) -> str:
        nodes = ", ".join(self.swarm.nodes) or "no nodes"
        return f"docker swarm ({self.swarm.manager.describe()}; nodes {nodes}; image {self.settings.image})"

    def problems(self) -> list[str]:
        if shutil.which(self.settings.cli) is None:
            return [f"the docker client {self.settings.cli!r} is not installed (or not on PATH); "
                    "runtime.backend swarm runs agents in swarm services"]
        if not self.swarm.nodes:
            return ["runtime.swarm.nodes is empty: list the swarm nodes agents may run on, each with its docker host"]
        found: list[str] = []
        manager = self.swarm.manager.run("info", "--format", "{{.Swarm.ControlAvailable}}", check=False, timeout=30)
        if manager.code != 0 or manager.stdout.strip() != "true":
            found.append(f"{self.swarm.manager.describe()} is not a reachable swarm manager "
                         "(runtime.swarm.manager; default: the first node's host)")

        def check(node: str) -> list[str]:
            try:
                self.swarm.node_id(node)
            except ExternalError as exc:
                return [exc.message]
            image = self.swarm.daemons[node].run("image", "inspect", "--format", "{{.Id}}", self.settings.image,
                                                 check=False, timeout=30)
            if image.code != 0:
                return [f"docker image {self.settings.image!r} is not on swarm node {node}; build it there "
                        f"(`metawsm image build --docker-host {self.swarm.nodes[node].host}`)"]
            return []

        return found + [p for problems in parallel(check, self.swarm.nodes) for p in problems]

    # -- services -----------------------------------------------------------------------------------------
    def _own(self, spec: SessionSpec) -> SessionSpec:
        labels = {**spec.labels, "repo": self.scope, **({"home": self.home} if self.home else {})}
        return replace(spec, labels=labels)

    def _all_tasks(self, repo: str | None = None, *, all_states: bool = False) -> list[Task]:
        return [t for found in parallel(lambda node: self.swarm.tasks(node, repo=repo, all_states=all_states),
                                         self.swarm.nodes) for t in found]

    def _service_labels(self, spec: SessionSpec, node: str) -> dict[str, str]:
        keys = ("repo", "home", "run", "ticket", "agent")
        labels = {k: spec.labels[k] for k in keys if spec.labels.get(k)}
        return {**labels, "session": spec.name, "node": node}

    def _ensure_services(self, specs: dict[str, SessionSpec]) -> tuple[dict[str, Task], set[str]]:
        """A running container for each service of ``specs`` (service → spec): adopted, or a new service on a
        node placement chooses (a service whose task ended is made again); returns the containers by service
        and the services made now."""
        tasks = self._all_tasks()
        ours = {t.service: t for t in tasks if t.labels.get("repo") == self.scope}
        make = [s for s in specs if s not in ours]
        if not make:
            return ours, set()
        load = Counter(t.node for t in tasks)
        try:
            placed = self._place(make, specs, load)
        except NoCapacity:  # a slot is free again once its session's command ended: count only live ones
            ended = [task for task in ours.values() if not self._live(task)]
            placed = self._place(make, specs, load - Counter(t.node for t in ended))
        existing = sorted(set(self.swarm.services(self.scope)) & set(make))
        stale = set(self.swarm.failures(existing)) if existing else set()
        if stale:  # its task ended (a killed container): the service is made again, its old container removed
            ended = [t for t in self._all_tasks(self.scope, all_states=True) if t.service in stale]
            self.swarm.remove(sorted(stale), ended)

        def create(service: str) -> tuple[bool, ExternalError | None]:
            node, spec = placed[service], specs[service]
            try:
                return self.swarm.create(create_args(self.settings, service, self.swarm.node_id(node),
                                                     self._service_labels(spec, node), spec, self.home)), None
            except ExternalError as exc:
                return False, exc

        results = parallel(create, make)
        made = [service for service, (ok, _) in zip(make, results, strict=True) if ok]
        try:
            failed = next((exc for _, exc in results if exc is not None), None)
            if failed is not None:
                raise failed
            # a service another metawsm process made meanwhile is waited for wherever its task runs
            running = self.swarm.wait_running({s: placed[s] if s in made else None for s in make}, self.scope)
        except ExternalError:  # what this call made does not stay behind: no half-made session is ever adopted
            self.swarm.remove(made, [t for t in self._all_tasks(self.scope, all_states=True) if t.service in made])
            raise
        return {**ours, **running}, set(make)

    def _place(self, make: Sequence[str], specs: dict[str, SessionSpec], load: Counter[str]) -> dict[str, str]:
        """The node of each new service (NoCapacity when one does not fit)."""
        load, placed = Counter(load), {}
        for service in make:
            labels = specs[service].labels
            placed[service] = node = choose(self.settings.nodes, self.settings.placement, labels.get("ticket", ""),
                                            labels.get("agent", specs[service].name), load)
            load[node] += 1
        return placed

    def _live(self, task: Task) -> bool:
        """Whether a session in this container still runs its command."""
        return any(not pane.pane_dead for _, pane in self._panes(task))

    def _tmux(self, task: Task, *, fresh: bool = False) -> ContainerTmux:
        return ContainerTmux(self.swarm.daemons[task.node], task.container, fresh=fresh)

    def _task_of(self, name: str) -> Task | None:
        if name not in self._located:
            self.sessions()
        return self._located.get(name)

    def _session_tmux(self, name: str) -> ContainerTmux:
        task = self._task_of(name)
        if task is None:
            raise ForeignSession(f"no session {name!r} in this repository's swarm services")
        return self._tmux(task)

    def _mine(self, pane: PaneInfo | None) -> bool:
        return pane is not None and pane.labels.get("repo") == self.scope

    # -- sessions -----------------------------------------------------------------------------------------
    def create(self, spec: SessionSpec) -> SessionInfo:
        return self.create_many([spec])[0]

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        owned = [self._own(spec) for spec in specs]
        by_service: dict[str, SessionSpec] = {}
        for spec in owned:
            by_service.setdefault(service_name(self.scope, spec.name), spec)
        tasks, fresh = self._ensure_services(by_service)

        def start(service: str) -> tuple[str, SessionInfo]:
            spec = by_service[service]
            (info,) = self._tmux(tasks[service], fresh=service in fresh).start_many([spec])
            self._located[spec.name] = tasks[service]
            return spec.name, info

        infos = dict(parallel(start, by_service))
        return [infos[spec.name] for spec in owned]

    # A service is this repository's (its name and `metawsm.repo` label say so), so the one session in its
    # container is: respawning needs no ownership query first.
    def respawn(self, spec: SessionSpec) -> int | None:
        return self.respawn_many([spec]).get(spec.name)

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        def respawn(spec: SessionSpec) -> dict[str, int | None]:
            task = self._task_of(spec.name)
            if task is None:
                raise ForeignSession(f"no session {spec.name!r} in this repository's swarm services to restart",
                                     hint="it ended meanwhile; `metawsm resume` creates it again")
            return self._tmux(task).respawn_many([spec])

        pids: dict[str, int | None] = {}
        for found in parallel(respawn, [self._own(spec) for spec in specs]):
            pids.update(found)
        return pids

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def _panes(self, task: Task) -> list[tuple[Task, PaneInfo]]:
        try:
            panes = self._tmux(task).snapshot()
        except ExternalError:
            if any(t.container == task.container for t in self.swarm.tasks(task.node, repo=self.scope)):
                raise
            return []  # it stopped meanwhile: its session is gone
        return [(task, pane) for pane in panes.values() if self._mine(pane)]

    def sessions(self) -> dict[str, SessionState]:
        result: dict[str, SessionState] = {}
        located: dict[str, Task] = {}
        for found in parallel(self._panes, self._all_tasks(self.scope)):
            for task, pane in found:
                located[pane.session] = task
                result[pane.session] = SessionState(
                    pane.session, pane.pane_pid, pane.pane_dead, pane.exit_status, pane.activity,
                    pane.current_command, pane.labels, "swarm", f"swarm {task.node}/{task.service}")
        self._located = located
        return result

    def capture(self, name: str, lines: int = 200) -> str:
        task = self._task_of(name)
        if task is None:
            raise ExternalError(f"no session {name!r} in this repository's swarm services")
        return self._tmux(task).capture_pane(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        tasks = [(name, task) for name in names if (task := self._task_of(name)) is not None]
        result: dict[str, str] = {}
        for found in parallel(lambda item: self._tmux(item[1]).capture_many([item[0]], lines), tasks):
            result.update(found)
        return result

    def kill(self, name: str) -> bool:
        """End session ``name``; its service (and the service's container) goes with it."""
        task = self._task_of(name)
        if task is None:
            return False
        tmux = self._tmux(task)
        ended = tmux.kill_session(name)
        self._located.pop(name, None)
        if not any(self._mine(p) for p in tmux.snapshot().values()):
            self.swarm.remove([task.service], [task])
        return ended

    def attach_command(self, name: str) -> list[str]:
        task = self._located.get(name) or self._task_of(name)
        if task is None:
            return [*self.swarm.manager.base, "service", "ps", service_name(self.scope, name)]
        return [*self.swarm.daemons[task.node].base, "exec", "-it", "-e", "TERM", task.container,
                "tmux", "-L", SOCKET, "attach-session", "-t", f"={name}"]

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self._session_tmux(name).pipe_output(name, path)

    def release(self, run: str) -> list[str]:
        """Remove the services made for ``run`` (and their containers, ended ones included) whose container
        holds no session of another run."""
        services = set(self.swarm.services(self.scope, run=run))
        if not services:
            return []
        tasks = [t for t in self._all_tasks(self.scope, all_states=True) if t.service in services]
        keep: set[str] = set()
        for found in parallel(self._panes, [t for t in tasks if t.running]):
            keep.update(task.service for task, pane in found if pane.labels.get("run") not in (None, run))
        doomed = sorted(services - keep)
        self.swarm.remove(doomed, [t for t in tasks if t.service in doomed])
        return [f"service {name}" for name in doomed]
