"""The policy's `runtime:` records (where agents run: local, docker, ssh, kubernetes, swarm), built
from validated configuration like every record of :mod:`metawsm.config.models`, which re-exports them.

Every record has a docstring (see models.py: a generated one costs as much as the class's creation)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LocalRuntimePolicy:
    """`runtime.local`: the tmux socket of the local backend."""

    socket_name: str = "metawsm-{repo}"


@dataclass(frozen=True)
class DockerRuntimePolicy:
    """`runtime.docker`: the image, limits and options of the docker backend."""

    image: str = "metawsm-base:latest"
    per: str = "ticket"  # "ticket" | "agent"
    host: str = ""
    cli: str = "docker"
    cpus: float = 0
    memory: str = ""
    pids: int = 0
    network: str = "bridge"
    env: tuple[str, ...] = ()
    user: str = ""
    mount_metawsm: bool = True


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
class KubernetesRuntimePolicy:
    """`runtime.kubernetes` (metawsm.runtime.kube_manifest.KubeSettings has the same fields)."""

    kind: str = "pod"  # "pod" | "job"
    engine: str = "kubectl"  # "kubectl" | "podman"
    cli: str = ""
    context: str = ""
    namespace: str = "default"
    image: str = "metawsm-base:latest"
    image_pull_policy: str = "IfNotPresent"
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    claim: str = ""
    claim_path: str = ""
    service_account: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    env_secrets: tuple[str, ...] = ()
    host_network: bool = False
    user: str = ""
    mount_metawsm: bool = True
    start_seconds: int = 300


@dataclass(frozen=True)
class SwarmNodePolicy:
    """One node of the swarm backend (`runtime.swarm.nodes[]`): its own docker daemon runs exec and attach."""

    name: str
    host: str
    labels: dict[str, str] = field(default_factory=dict)
    slots: int = 4


@dataclass(frozen=True)
class SwarmPlacementPolicy:
    """`runtime.swarm.placement[]`: agents whose ticket and agent name match these globs need these node labels."""

    labels: dict[str, str]
    ticket: str = "*"
    agent: str = "*"


@dataclass(frozen=True)
class SwarmRuntimePolicy:
    """`runtime.swarm`: the swarm manager, its nodes and where agents are placed."""

    manager: str = ""
    nodes: tuple[SwarmNodePolicy, ...] = ()
    placement: tuple[SwarmPlacementPolicy, ...] = ()
    image: str = "metawsm-base:latest"
    cli: str = "docker"
    cpus: float = 0
    memory: str = ""
    pids: int = 0
    network: str = ""
    env: tuple[str, ...] = ()
    user: str = ""
    mount_metawsm: bool = True


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
