"""The `docker` Runtime: agent sessions are tmux sessions inside containers, one container per ticket (or per
agent session, `runtime.docker.per`), started from the policy's image.

A container sees the repository, the ticket's worktree(s) and their repositories at their own absolute paths
(a worktree's ``.git`` file points into the main repository: mounting only the worktree breaks git), and the
Python environment running metawsm read-only (so ``metawsm signal`` inside is the same version). It runs as
the user running metawsm, with the policy's limits and network mode; credentials enter by name only
(``docker run -e NAME``: the value never appears on a command line). Containers carry ``metawsm.*`` labels
(repo, home, run, ticket, and agent when per agent); a repository only ever sees, adopts and removes its own.
A container whose last session ends is removed: what the agent made lives in the mounted worktree.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace

from metawsm.errors import ExternalError
from metawsm.runtime.base import ForeignSession, RuntimeConfig, SessionInfo, SessionSpec, SessionState
from metawsm.runtime.docker_cli import LABEL, SOCKET, Container, ContainerTmux, DockerCli
from metawsm.runtime.docker_run import run_args
from metawsm.runtime.fanout import InnerTmuxIO, parallel
from metawsm.runtime.settings import DockerSettings
from metawsm.runtime.tmux_panes import PaneInfo


class DockerRuntime(InnerTmuxIO):
    """Agent sessions of one repository in containers of one docker daemon."""

    backend = "docker"

    def __init__(self, config: RuntimeConfig) -> None:
        self.scope, self.home = config.scope or "default", config.home
        settings = config.settings
        self.settings: DockerSettings = settings if settings is not None else DockerSettings()  # type: ignore[assignment]
        self.docker = DockerCli(self.settings.cli, self.settings.host)
        self._located: dict[str, str] = {}  # session → container, from the last sessions()
        self._starting: set[str] = set()  # containers created here whose own command is making their sessions

    def describe(self) -> str:
        return f"{self.docker.describe()} (image {self.settings.image})"

    def problems(self) -> list[str]:
        if shutil.which(self.settings.cli) is None:
            return [f"the docker client {self.settings.cli!r} is not installed (or not on PATH); "
                    "runtime.backend docker runs agents in containers"]
        # one call when all is well (an image found proves the daemon answers); the second says what is wrong
        image = self.docker.run("image", "inspect", "--format", "{{.Id}}", self.settings.image, check=False, timeout=30)
        if image.code == 0:
            return []
        version = self.docker.run("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
        if version.code != 0:
            return [f"the docker daemon is not reachable ({self.docker.describe()}): "
                    + (version.stderr.strip().splitlines() or ["no answer"])[-1]]
        return [f"docker image {self.settings.image!r} not found; build it with `metawsm image build`"]

    # -- containers ---------------------------------------------------------------------------------------
    def container_name(self, spec: SessionSpec) -> str:
        key = spec.name if self.settings.per == "agent" else (spec.labels.get("ticket") or spec.name)
        return f"metawsm-{self.scope}-{key}"

    def _own(self, spec: SessionSpec) -> SessionSpec:
        labels = {**spec.labels, "repo": self.scope, **({"home": self.home} if self.home else {})}
        return replace(spec, labels=labels)

    def _ensure_containers(self, wanted: dict[str, list[SessionSpec]]) -> tuple[set[str], set[str]]:
        """Every container ``wanted`` names, running: adopted, started again, or created (in parallel) with the
        sessions it is wanted for made by its own command. Returns (created with their sessions, started again —
        no tmux server runs in those yet)."""
        current = self.docker.containers(self.scope)
        stopped = [name for name in wanted if name in current and not current[name].running]
        if stopped:
            self.docker.run("start", *stopped)
        created = [n for n in wanted if n not in current]
        made = {n for n, ok in zip(created, parallel(self._create_container, [(n, wanted[n]) for n in created]),
                                   strict=True) if ok}
        self._starting |= made
        return made, set(stopped)

    def _create_container(self, item: tuple[str, list[SessionSpec]]) -> bool:
        """Create container ``name`` making ``specs``' sessions as it starts; False when another metawsm process
        of this repository created it meanwhile (its sessions are then made as in any running container)."""
        name, specs = item
        first = specs[0]
        tmux = ContainerTmux(self.docker, name)
        args: list[str] = []
        for spec in {spec.name: spec for spec in specs}.values():
            args += [*([";"] if args else []), *tmux.new_session_args(spec, "#{pane_pid}")]
        result = self.docker.run(*run_args(self.settings, name, self._container_labels(first), first, self.home,
                                           tmux=(SOCKET, args)), check=False)
        if result.code == 0:
            return True
        if "is already in use" in result.stderr:  # created meanwhile by another metawsm process
            theirs = self.docker.containers(self.scope).get(name)
            if theirs is not None:
                if not theirs.running:
                    self.docker.run("start", name)
                return False
            raise ForeignSession(f"container {name} exists but belongs to another repository",
                                 hint=f"remove it (`docker rm -f {name}`) if it is stale")
        raise ExternalError(f"cannot start container {name} from {self.settings.image}: "
                            + "\n".join(result.stderr.strip().splitlines()[-5:]),
                            hint="`metawsm image build` makes the default image; check runtime.docker in the policy")

    def _container_labels(self, spec: SessionSpec) -> dict[str, str]:
        labels = {"repo": self.scope, "home": self.home, "run": spec.labels.get("run", ""),
                  "ticket": spec.labels.get("ticket", "")}
        if self.settings.per == "agent":
            labels["agent"] = spec.labels.get("agent", "")
        return {f"{LABEL}{k}": v for k, v in labels.items() if v}

    def _tmux(self, container: str, *, fresh: bool = False) -> ContainerTmux:
        starting = container in self._starting  # its first command waits for the sessions the container makes
        self._starting.discard(container)
        return ContainerTmux(self.docker, container, fresh=fresh, starting=starting)

    def _container_of(self, name: str) -> str | None:
        if name not in self._located:
            self.sessions()
        return self._located.get(name)

    def _mine(self, pane: PaneInfo | None) -> bool:
        return pane is not None and pane.labels.get("repo") == self.scope

    # -- sessions -----------------------------------------------------------------------------------------
    def create(self, spec: SessionSpec) -> SessionInfo:
        return self.create_many([spec])[0]

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        """A new container makes its sessions itself (its command runs the tmux invocation: no `docker exec`);
        sessions in containers that already run are made (or adopted) by one `docker exec` per container."""
        owned = [self._own(spec) for spec in specs]
        groups: dict[str, list[int]] = {}
        for index, spec in enumerate(owned):
            groups.setdefault(self.container_name(spec), []).append(index)
        made, restarted = self._ensure_containers({c: [owned[i] for i in ix] for c, ix in groups.items()})

        def start(item: tuple[str, list[int]]) -> list[tuple[int, SessionInfo]]:
            container, indexes = item
            if container in made:
                return [(i, SessionInfo(owned[i].name, created=True, pane_pid=None)) for i in indexes]
            infos = self._tmux(container, fresh=container in restarted).start_many([owned[i] for i in indexes])
            return list(zip(indexes, infos, strict=True))

        results = dict(pair for group in parallel(start, groups.items()) for pair in group)
        for spec in owned:
            self._located[spec.name] = self.container_name(spec)
        return [results[i] for i in range(len(specs))]

    # A container is this repository's (its name and `metawsm.repo` label say so, checked when it is adopted),
    # so every session in it is: respawning needs no ownership query first (one docker exec per container).
    def respawn(self, spec: SessionSpec) -> int | None:
        spec = self._own(spec)
        tmux = self._tmux(self.container_name(spec))
        try:
            return tmux.respawn(spec.name, spec.cwd, spec.env, spec.command, spec.log, labels=spec.labels)
        except ExternalError as exc:
            raise ForeignSession(f"no session {spec.name!r} in container {tmux.container} to restart: {exc.message}",
                                 hint="it ended meanwhile; `metawsm resume` creates it again") from exc

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        groups: dict[str, list[SessionSpec]] = {}
        for spec in specs:
            spec = self._own(spec)
            groups.setdefault(self.container_name(spec), []).append(spec)

        def respawn(item: tuple[str, list[SessionSpec]]) -> dict[str, int | None]:
            return self._tmux(item[0]).respawn_many(item[1])

        pids: dict[str, int | None] = {}
        for found in parallel(respawn, groups.items()):
            pids.update(found)
        return pids

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def _panes(self, container: Container) -> list[tuple[str, PaneInfo]]:
        try:
            panes = self._tmux(container.name).snapshot()
        except ExternalError:
            if self.docker.containers(self.scope).get(container.name, container).running:
                raise
            return []  # it stopped meanwhile: its sessions are gone
        return [(container.name, pane) for pane in panes.values() if self._mine(pane)]

    def sessions(self) -> dict[str, SessionState]:
        running = [c for c in self.docker.containers(self.scope).values() if c.running]
        result: dict[str, SessionState] = {}
        located: dict[str, str] = {}
        for found in parallel(self._panes, running):
            for container, pane in found:
                located[pane.session] = container
                result[pane.session] = SessionState(
                    pane.session, pane.pane_pid, pane.pane_dead, pane.exit_status, pane.activity,
                    pane.current_command, pane.labels, "docker", f"docker:{container}")
        self._located = located
        return result

    def capture(self, name: str, lines: int = 200) -> str:
        container = self._container_of(name)
        if container is None:
            raise ExternalError(f"no session {name!r} in this repository's containers")
        return self._tmux(container).capture_pane(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        groups: dict[str, list[str]] = {}
        for name in names:
            container = self._container_of(name)
            if container is not None:
                groups.setdefault(container, []).append(name)
        result: dict[str, str] = {}
        for found in parallel(lambda item: self._tmux(item[0]).capture_many(item[1], lines), groups.items()):
            result.update(found)
        return result

    def _session_tmux(self, name: str) -> ContainerTmux:
        container = self._container_of(name)
        if container is None:
            raise ForeignSession(f"no session {name!r} in this repository's containers")
        return self._tmux(container)

    def kill(self, name: str) -> bool:
        """End session ``name``; its container goes with its last session."""
        container = self._container_of(name)
        if container is None:
            return False
        tmux = self._tmux(container)
        ended = tmux.kill_session(name)
        self._located.pop(name, None)
        if not any(self._mine(p) for p in tmux.snapshot().values()):
            self.docker.remove([container])
        return ended

    def attach_command(self, name: str) -> list[str]:
        container = self._located.get(name) or self._container_of(name) or f"metawsm-{self.scope}-?"
        return [*self.docker.base, "exec", "-it", "-e", "TERM", container,
                "tmux", "-L", SOCKET, "attach-session", "-t", f"={name}"]

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self._session_tmux(name).pipe_output(name, path)

    def release(self, run: str) -> list[str]:
        """Remove the containers made for ``run`` that hold no session of another run."""
        doomed = []
        for container in self.docker.containers(self.scope, run=run).values():
            panes = self._panes(container) if container.running else []
            others = [p for _, p in panes if p.labels.get("run") not in (None, run)]
            if not others:
                doomed.append(container.name)
        self.docker.remove(doomed)
        return [f"container {name}" for name in doomed]
