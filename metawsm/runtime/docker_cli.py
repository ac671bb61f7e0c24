"""The docker command-line client as metawsm uses it: one daemon (``docker -H``), containers found by their
``metawsm.*`` labels, and tmux run inside a container through ``docker exec``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from metawsm.errors import ExternalError
from metawsm.runtime import envpass, proc
from metawsm.runtime.docker_run import READY
from metawsm.runtime.tmux_exec import ExecTmux

LABEL = "metawsm."  # a container label `metawsm.repo` is the session label `repo`
TIMEOUT = 120.0  # seconds for one docker command (a `docker run` on a loaded machine takes a few)
SOCKET = "metawsm"  # the tmux socket name inside every container
_FIELDS = ("repo", "home", "run", "ticket", "agent")
_FORMAT = "\t".join(["{{.Names}}", "{{.State}}", *(f'{{{{.Label "{LABEL}{k}"}}}}' for k in _FIELDS)])


# wait up to ~30 s for the container's own first sessions (docker_run.READY), then run tmux with "$@"
_AFTER_READY = (f'i=0; while [ ! -e {READY} ] && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.05; done; '
                'exec tmux -L "$0" "$@"')


@dataclass(frozen=True)
class Container:
    name: str
    running: bool
    labels: Mapping[str, str]


class DockerCli:
    """``docker [-H host] …`` with a timeout, its failures as ExternalError naming the command."""

    def __init__(self, cli: str = "docker", host: str = "") -> None:
        self.cli, self.host = cli, host
        self.base = [cli, *(["-H", host] if host else [])]

    def describe(self) -> str:
        return f"docker -H {self.host}" if self.host else "docker"

    def run(self, *args: str, check: bool = True, timeout: float = TIMEOUT,
            env: Mapping[str, str] | None = None) -> proc.Completed:
        return proc.run([*self.base, *args], check=check, timeout=timeout, env=env)

    def containers(self, repo: str, **labels: str) -> dict[str, Container]:
        """This repository's containers (running or not) carrying ``labels``, by name, from ONE query."""
        filters = [f"--filter=label={LABEL}{k}={v}" for k, v in {"repo": repo, **labels}.items()]
        out = self.run("ps", "-a", "--no-trunc", *filters, "--format", _FORMAT).stdout
        found = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) != 2 + len(_FIELDS):
                continue
            name, state = parts[0], parts[1]
            found[name] = Container(name, state == "running",
                                    {k: v for k, v in zip(_FIELDS, parts[2:], strict=True) if v})
        return found

    def remove(self, names: Sequence[str]) -> None:
        """Remove containers (killing what runs in them); a container already gone is no error."""
        if names:
            result = self.run("rm", "-f", *names, check=False)
            if result.code != 0 and "No such container" not in result.stderr:
                raise ExternalError(f"cannot remove containers {', '.join(names)}: {proc.tail(result.stderr)}")


class ContainerTmux(ExecTmux):
    """The tmux server inside one container (``docker exec C tmux -L metawsm …``).

    Sessions get only the variables metawsm sets (METAWSM_*, the agent's own); credentials and PATH come from
    the container's environment, fixed when it was created, so no secret is ever on a command line."""

    def __init__(self, docker: DockerCli, container: str, *, fresh: bool = False, starting: bool = False) -> None:
        super().__init__(SOCKET, f"container {container}", fresh=fresh)
        self.docker, self.container = docker, container
        # a container just created makes its first sessions itself (docker_run.READY): the first command waits
        # (bounded) for them to exist, in the same `docker exec`
        self._starting = starting

    def argv(self, *args: str, stdin: bool = False, tty: bool = False) -> list[str]:
        flags = [*(["-i"] if stdin or tty else []), *(["-t"] if tty else [])]
        if self._starting:
            self._starting = False
            return [*self.docker.base, "exec", *flags, self.container, "sh", "-c", _AFTER_READY, self.socket_name,
                    *args]
        return [*self.docker.base, "exec", *flags, self.container, "tmux", "-L", self.socket_name, *args]

    def session_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if k != "PATH" and not k.startswith(envpass.PASS_PREFIXES)}
