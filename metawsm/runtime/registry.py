"""Runtime backends by name. `local` (the default) runs sessions in tmux on this machine, `docker` in tmux inside
containers; a new backend (ssh, swarm, kubernetes) is one module and one line here."""

from __future__ import annotations

from collections.abc import Callable

from metawsm.errors import UsageError
from metawsm.runtime.base import Runtime, RuntimeConfig


def _local(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.local import TmuxRuntime

    return TmuxRuntime(config)


def _docker(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.docker import DockerRuntime

    return DockerRuntime(config)


def _ssh(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.ssh import SshRuntime

    return SshRuntime(config)


def _kubernetes(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.kubernetes import KubeRuntime

    return KubeRuntime(config)


def _swarm(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.swarm import SwarmRuntime

    return SwarmRuntime(config)


BACKENDS: dict[str, Callable[[RuntimeConfig], Runtime]] = {
    "local": _local,
    "tmux": _local,
    "docker": _docker,
    "ssh": _ssh,
    "kubernetes": _kubernetes,
    "swarm": _swarm,
}
#: Backends whose sessions do not see this machine's files: their agents report through the daemon
#: (METAWSM_SERVER and an agent token, see metawsm/state/tokens.py).
REMOTE_BACKENDS = frozenset({"ssh", "kubernetes"})


def check_backend(name: str) -> str:
    """``name`` when it names a backend, else a UsageError listing the known ones."""
    if name not in BACKENDS:
        raise UsageError(f"unknown runtime backend {name!r}", hint="known backends: " + ", ".join(sorted(BACKENDS)))
    return name


def open_runtime(config: RuntimeConfig) -> Runtime:
    """The Runtime named by ``config.backend``."""
    return BACKENDS[check_backend(config.backend)](config)
