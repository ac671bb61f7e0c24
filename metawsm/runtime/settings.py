"""The typed settings of the container backends (`runtime.docker`, `runtime.swarm`, `runtime.kubernetes` of the
policy). The policy's records are these very classes (config/runtime_models.py builds them from validated
configuration), so a backend reads its block as it was validated, with nothing copied field by field.

Only dataclasses here: config imports this module, and what validates or builds a policy stays light."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class DockerSettings:
    """`runtime.docker`: the image, limits and options of the docker backend."""

    image: str = "metawsm-base:latest"
    per: str = "ticket"  # "ticket" | "agent": one container per ticket or per agent
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
class SwarmNode:
    """One node of the swarm backend (`runtime.swarm.nodes[]`): its own docker daemon runs exec and attach."""

    name: str
    host: str
    labels: Mapping[str, str] = field(default_factory=dict)
    slots: int = 4


@dataclass(frozen=True)
class PlacementRule:
    """`runtime.swarm.placement[]`: agents whose ticket and agent name match these globs need these node labels."""

    labels: Mapping[str, str]
    ticket: str = "*"
    agent: str = "*"


@dataclass(frozen=True)
class SwarmSettings:
    """`runtime.swarm`: the swarm manager, its nodes and where agents are placed."""

    manager: str = ""
    nodes: tuple[SwarmNode, ...] = ()
    placement: tuple[PlacementRule, ...] = ()
    image: str = "metawsm-base:latest"
    cli: str = "docker"
    cpus: float = 0
    memory: str = ""
    pids: int = 0
    network: str = ""
    env: tuple[str, ...] = ()
    user: str = ""
    mount_metawsm: bool = True

    @classmethod
    def of(cls, policy: object) -> SwarmSettings:
        """The backend's settings: the policy's block itself, or the defaults for None."""
        return _of(cls, policy)


@dataclass(frozen=True)
class KubeSettings:
    """`runtime.kubernetes`: the pods (or jobs) of the kubernetes backend and the engine that runs them."""

    kind: str = "pod"  # pod | job
    engine: str = "kubectl"  # kubectl: the user's cluster; podman: `podman kube play` on this machine (pods only)
    cli: str = ""  # the client binary; "": kubectl or podman
    context: str = ""
    namespace: str = "default"
    image: str = "metawsm-base:latest"
    image_pull_policy: str = "IfNotPresent"
    requests: Mapping[str, str] = field(default_factory=dict)  # cpu, memory, ephemeral-storage
    limits: Mapping[str, str] = field(default_factory=dict)
    claim: str = ""  # a PersistentVolumeClaim holding the repository and worktrees, mounted at claim_path
    claim_path: str = ""
    service_account: str = ""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    env_secrets: tuple[str, ...] = ()
    host_network: bool = False
    user: str = ""  # uid[:gid]; "": the user running metawsm
    mount_metawsm: bool = True
    start_seconds: int = 300  # how long a new pod may take to run (scheduling, image pull)

    @classmethod
    def of(cls, policy: object) -> KubeSettings:
        """The backend's settings: the policy's block itself, or the defaults for None."""
        return _of(cls, policy)


def _of(cls: type[T], policy: object) -> T:
    if policy is None:
        return cls()
    if not isinstance(policy, cls):
        raise TypeError(f"{cls.__name__} expected, got {type(policy).__name__}")
    return policy
