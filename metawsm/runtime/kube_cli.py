"""Every command the `kubernetes` backend runs, in one place: the engine that applies its manifests, lists its
pods by label, runs commands in them and deletes them.

- :class:`Kubectl` — the user's cluster: ``kubectl [--context C] --namespace N apply -f -`` (the manifests on
  stdin), ``get pods -l … -o json``, ``exec [-i] [-t] POD -c agent -- …``, ``label``, ``delete pods,jobs -l …``.
- :class:`PodmanKube` — the same Pod manifests on this machine with ``podman kube play -`` (Pods only: podman 4.3
  has no Jobs), ``podman pod ps --filter label=…``, ``podman exec``, ``podman pod rm``. The tests run the backend
  on it; people can use it to try a policy without a cluster.

Both build argv lists only (nothing passes through a shell) and read the labels :mod:`kube_manifest` wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.kube_manifest import CONTAINER, PREFIX, as_list
from metawsm.runtime.settings import KubeSettings

TIMEOUT = 120.0  # seconds for one client command
# a container that waits for one of these will not start by itself: fail now, naming it
STUCK = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                   "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


@dataclass(frozen=True)
class PodInfo:
    """One of our pods as the engine reports it. ``key`` is its `metawsm/pod` label: the pod's own name for a
    Pod, the Job's name for a Job's pod."""

    name: str
    key: str
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    labels: Mapping[str, str]
    reason: str = ""  # why a pending container waits (ImagePullBackOff, …)
    deleting: bool = False

    @property
    def running(self) -> bool:
        return self.phase == "Running" and not self.deleting


class KubeEngine(Protocol):
    cli: str

    def describe(self) -> str: ...
    def apply(self, manifests: list[dict[str, Any]]) -> None: ...
    def pods(self, selector: str) -> list[PodInfo]: ...
    def exec_argv(self, pod: str, argv: Sequence[str], *, stdin: bool = False, tty: bool = False) -> list[str]: ...
    def label(self, pod: str, labels: Mapping[str, str]) -> None: ...
    def delete(self, selector: str) -> None: ...


def _fail(what: str, result: proc.Completed) -> ExternalError:
    return ExternalError(f"{what} failed (exit {result.code}): {proc.tail(result.stderr or result.stdout, 8)}",
                         hint=f"command: {' '.join(result.argv[:6])} …")


class Kubectl:
    """``kubectl`` against the policy's context and namespace. Each command's argv (and stdin) is built by a
    ``*_call`` method, run by :meth:`run`; ``get pods`` output is read by :func:`parse_pods`."""

    def __init__(self, settings: KubeSettings) -> None:
        self.cli = settings.cli or "kubectl"
        self.namespace = settings.namespace
        self.base = [self.cli, *(["--context", settings.context] if settings.context else []),
                     "--namespace", settings.namespace]

    def describe(self) -> str:
        return " ".join(self.base)

    def run(self, call: tuple[list[str], str | None], check: bool = True) -> proc.Completed:
        argv, stdin = call
        result = proc.run(argv, input=stdin, check=False, timeout=TIMEOUT)
        if check and result.code != 0:
            raise _fail(f"kubectl {argv[len(self.base)]}", result)
        return result

    def apply_call(self, manifests: list[dict[str, Any]]) -> tuple[list[str], str | None]:
        return [*self.base, "apply", "-f", "-"], json.dumps(as_list(manifests))

    def pods_call(self, selector: str) -> tuple[list[str], str | None]:
        return [*self.base, "get", "pods", "-l", selector, "-o", "json"], None

    def label_call(self, pod: str, labels: Mapping[str, str]) -> tuple[list[str], str | None]:
        return [*self.base, "label", "pod", pod, "--overwrite", *(f"{k}={v}" for k, v in labels.items())], None

    def delete_call(self, selector: str) -> tuple[list[str], str | None]:
        return [*self.base, "delete", "pods,jobs", "-l", selector, "--ignore-not-found", "--wait=false",
                "--cascade=background"], None

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        self.run(self.apply_call(manifests))

    def pods(self, selector: str) -> list[PodInfo]:
        return parse_pods(self.run(self.pods_call(selector)).stdout)

    def exec_argv(self, pod: str, argv: Sequence[str], *, stdin: bool = False, tty: bool = False) -> list[str]:
        flags = [*(["-i"] if stdin or tty else []), *(["-t"] if tty else [])]
        return [*self.base, "exec", *flags, pod, "-c", CONTAINER, "--", *argv]

    def label(self, pod: str, labels: Mapping[str, str]) -> None:
        self.run(self.label_call(pod, labels))

    def delete(self, selector: str) -> None:
        self.run(self.delete_call(selector))


def parse_pods(text: str) -> list[PodInfo]:
    """The pods of a ``kubectl get pods -o json`` answer (a PodList)."""
    data = json.loads(text or "{}")
    found = []
    for item in data.get("items", []):
        meta, status = item.get("metadata", {}), item.get("status", {})
        labels = meta.get("labels") or {}
        waiting = [(c.get("state") or {}).get("waiting", {}).get("reason", "")
                   for c in status.get("containerStatuses") or []]
        found.append(PodInfo(meta.get("name", ""), labels.get(PREFIX + "pod", meta.get("name", "")),
                             status.get("phase", "Unknown"), labels, next((w for w in waiting if w), ""),
                             bool(meta.get("deletionTimestamp"))))
    return found


class PodmanKube:
    """The Pod manifests on this machine, through ``podman kube play`` (the podman configuration comes from the
    environment: CONTAINERS_CONF, CONTAINERS_STORAGE_CONF)."""

    def __init__(self, settings: KubeSettings) -> None:
        self.cli = settings.cli or "podman"
        if settings.kind != "pod":
            raise ExternalError("runtime.kubernetes.engine podman runs Pods only (podman has no Jobs)",
                                hint="set runtime.kubernetes.kind: pod, or use engine: kubectl")

    def describe(self) -> str:
        return f"{self.cli} kube play"

    def run(self, *args: str, input: str | None = None, check: bool = True) -> proc.Completed:
        result = proc.run([self.cli, *args], input=input, check=False, timeout=TIMEOUT)
        if check and result.code != 0:
            raise _fail(f"podman {args[0]}", result)
        return result

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        from metawsm.runtime.kube_manifest import as_yaml

        self.run("kube", "play", "-", input=as_yaml(manifests))

    def pods(self, selector: str) -> list[PodInfo]:
        filters = [f"--filter=label={part}" for part in selector.split(",") if part]
        data = json.loads(self.run("pod", "ps", *filters, "--format", "json").stdout or "[]")
        found = []
        for item in data or []:
            labels = item.get("Labels") or {}
            phase = {"Running": "Running", "Created": "Pending"}.get(item.get("Status", ""), "Failed")
            found.append(PodInfo(item.get("Name", ""), labels.get(PREFIX + "pod", item.get("Name", "")), phase,
                                 labels))
        return found

    def exec_argv(self, pod: str, argv: Sequence[str], *, stdin: bool = False, tty: bool = False) -> list[str]:
        flags = [*(["-i"] if stdin or tty else []), *(["-t"] if tty else [])]
        return [self.cli, "exec", *flags, f"{pod}-{CONTAINER}", *argv]

    def label(self, pod: str, labels: Mapping[str, str]) -> None:
        """podman cannot relabel a pod: the attempt stays in the tmux session's own labels."""

    def delete(self, selector: str) -> None:
        names = [p.name for p in self.pods(selector)]
        if names:  # stop first: `pod rm -f` of a running pod takes seconds longer (measured: 3.5 s against 0.6 s)
            self.run("pod", "stop", "-t", "2", *names, check=False)
            self.run("pod", "rm", "-f", *names)


def open_engine(settings: KubeSettings) -> KubeEngine:
    if settings.engine == "podman":
        return PodmanKube(settings)
    return Kubectl(settings)
