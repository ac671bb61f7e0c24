"""The policy's `runtime:` records (where agents run: local, docker, ssh, kubernetes, swarm), built
from validated configuration like every record of :mod:`metawsm.config.models`, which re-exports them.
The container backends' blocks are their own settings records (:mod:`metawsm.runtime.settings`): the
backend reads the block as built here, with no second copy of its fields.

Every record has a docstring (see models.py: a generated one costs as much as the class's creation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from metawsm.runtime.settings import DockerSettings as DockerRuntimePolicy
from metawsm.runtime.settings import KubeSettings as KubernetesRuntimePolicy
from metawsm.runtime.settings import PlacementRule as SwarmPlacementPolicy
from metawsm.runtime.settings import SwarmNode as SwarmNodePolicy
from metawsm.runtime.settings import SwarmSettings as SwarmRuntimePolicy

__all__ = ["DockerRuntimePolicy", "KubernetesRuntimePolicy", "LocalRuntimePolicy", "RuntimePolicy", "SshHostPolicy",
           "SshRuntimePolicy", "SwarmNodePolicy", "SwarmPlacementPolicy", "SwarmRuntimePolicy"]


@dataclass(frozen=True)
class LocalRuntimePolicy:
    """`runtime.local`: the tmux socket of the local backend."""

    socket_name: str = "metawsm-{repo}"


@dataclass(frozen=True)
class SshHostPolicy:
    """One host of the ssh backend (`runtime.ssh.hosts[]`)."""

    name: str
    address: str
    port: int = 22
    user: str = ""
    key: str = ""
    workdir: str = "/tmp/metawsm-agents"
    slots: int = 4


@dataclass(frozen=True)
class SshRuntimePolicy:
    """`runtime.ssh`: the hosts of the ssh backend and how to reach them."""

    hosts: tuple[SshHostPolicy, ...] = ()
    known_hosts: str = ""
    control_dir: str = ""
    path: str = ""
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuntimePolicy:
    """Where agents run (`runtime:`): the default backend and each backend's settings."""

    backend: str = "local"
    session_pattern: str = "{plan}-{ticket}-{agent}"
    local: LocalRuntimePolicy = field(default_factory=LocalRuntimePolicy)
    docker: DockerRuntimePolicy = field(default_factory=DockerRuntimePolicy)
    ssh: SshRuntimePolicy = field(default_factory=SshRuntimePolicy)
    kubernetes: KubernetesRuntimePolicy = field(default_factory=KubernetesRuntimePolicy)
    swarm: SwarmRuntimePolicy = field(default_factory=SwarmRuntimePolicy)
