"""The Kubernetes objects of the `kubernetes` backend: one Pod per agent session (or a Job wrapping the same pod
template), generated from the policy's `runtime.kubernetes` block.

The pod's one container runs the policy's image with a keeper as its main process (the agent's tmux server is
started in it through `kubectl exec`); the keeper exits once the tmux server has had a session and has none left,
so a Job completes when its agent's session ends. Volumes show the repository and the ticket's worktree(s) at their
own absolute paths: hostPath (the node must see this machine's paths: a one-node cluster on this machine, or the
same shared mount on every node), or one PersistentVolumeClaim mounted at `claim_path` (which must hold them all).
Secrets enter only through `envFrom` of the Secrets the policy names. Labels (`metawsm/repo`, `run`, `ticket`,
`agent`, `attempt`, `pod`) select exactly this repository's objects; values that are not valid label values are
shortened with a hash, and the full values are kept as annotations.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

from metawsm.errors import ExternalError
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.docker_run import Placement, placement
from metawsm.runtime.settings import KubeSettings

PREFIX = "metawsm/"  # label and annotation keys: metawsm/repo, metawsm/run, …
CONTAINER = "agent"  # the pod's container name (kubectl exec -c agent)
SOCKET = "metawsm"  # the tmux socket name inside every pod
ENV_DIR = "/tmp/metawsm-env"  # per-session env files inside the pod (written through exec's stdin, mode 0600)
# The keeper: wait (at most 10 minutes) for the first tmux session, then live as long as any session does.
# (`sleep & wait`: a trapped TERM interrupts `wait` at once, so the pod stops without waiting for its grace period)
# The first wait also ends when tmux's socket exists (it outlives the server): a session that began and ended
# between two polls would otherwise leave the pod waiting its 10 minutes.
KEEPER = (f"trap 'exit 0' TERM INT; i=0; while ! tmux -L {SOCKET} has-session 2>/dev/null "
          f"&& [ ! -S \"${{TMUX_TMPDIR:-/tmp}}/tmux-$(id -u)/{SOCKET}\" ]; do i=$((i+1)); "
          "[ $i -gt 600 ] && exit 1; sleep 1 & wait $!; done; "
          f"while tmux -L {SOCKET} has-session 2>/dev/null; do sleep 2 & wait $!; done")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(value: str) -> str:
    """``value`` as a Kubernetes label value (at most 63 characters of [-A-Za-z0-9_.], alphanumeric at both
    ends): itself when valid, else a cleaned prefix and a hash of the whole (the same value always maps alike)."""
    if len(value) <= 63 and _LABEL_VALUE.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    cleaned = re.sub(r"[^-A-Za-z0-9_.]", "_", value)[:50].strip("-_.")
    return f"{cleaned}-{digest}" if cleaned else digest


def pod_name(scope: str, session: str) -> str:
    """A DNS label naming the session's pod (or job): ``mw-<repo id>-<session, lowercased>-<hash>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", session.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(session.encode()).hexdigest()[:6]
    return f"mw-{scope}-{slug}-{digest}" if slug else f"mw-{scope}-{digest}"


def selector(**labels: str) -> str:
    """A label selector matching every given label (values made label values)."""
    return ",".join(f"{PREFIX}{k}={label_value(v)}" for k, v in labels.items())


def _quantities(values: Mapping[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if str(v)}


def _volumes(settings: KubeSettings, plan: Placement) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, volumeMounts): the session's paths read-write at their own places, metawsm read-only."""
    writable = plan.writable
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if settings.claim:
        root = settings.claim_path.rstrip("/") or "/"
        outside = [p for p in writable if not (p == root or p.startswith(root.rstrip("/") + "/"))]
        if outside:
            raise ExternalError(f"runtime.kubernetes.claim_path {settings.claim_path!r} does not hold "
                                f"{', '.join(outside)}",
                                hint="mount the claim where the repository and its worktrees are (the same path "
                                     "on this machine), or use hostPath volumes (no claim)")
        volumes.append({"name": "work", "persistentVolumeClaim": {"claimName": settings.claim}})
        mounts.append({"name": "work", "mountPath": root})
    else:
        for i, path in enumerate(writable):
            volumes.append({"name": f"work-{i}", "hostPath": {"path": path, "type": "Directory"}})
            mounts.append({"name": f"work-{i}", "mountPath": path})
    for i, path in enumerate(plan.readonly):
        volumes.append({"name": f"metawsm-{i}", "hostPath": {"path": path, "type": "Directory"}})
        mounts.append({"name": f"metawsm-{i}", "mountPath": path, "readOnly": True})
    return volumes, mounts


def _user(settings: KubeSettings) -> tuple[int, int]:
    if settings.user:
        uid, _, gid = settings.user.partition(":")
        return int(uid), int(gid or uid)
    return os.getuid(), os.getgid()


def labels_of(scope: str, spec: SessionSpec, name: str) -> dict[str, str]:
    found = {"repo": scope, **{k: spec.labels.get(k, "") for k in ("run", "ticket", "agent", "attempt")},
             "pod": name}
    return {PREFIX + k: label_value(v) for k, v in found.items() if v}


def pod_spec(settings: KubeSettings, spec: SessionSpec, home: str) -> dict[str, Any]:
    plan = placement(spec, home, mount_metawsm=settings.mount_metawsm, into="a pod")
    volumes, mounts = _volumes(settings, plan)
    uid, gid = _user(settings)
    container: dict[str, Any] = {
        "name": CONTAINER, "image": settings.image, "imagePullPolicy": settings.image_pull_policy,
        "command": ["/bin/sh", "-c", KEEPER], "workingDir": spec.cwd,
        "env": [{"name": k, "value": v} for k, v in plan.env.items()],
        "volumeMounts": mounts, "securityContext": {"runAsUser": uid, "runAsGroup": gid},
    }
    if settings.env_secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in settings.env_secrets]
    resources = {k: v for k, v in (("requests", _quantities(settings.requests)),
                                   ("limits", _quantities(settings.limits))) if v}
    if resources:
        container["resources"] = resources
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": volumes}
    if settings.service_account:
        pod["serviceAccountName"] = settings.service_account
    if settings.node_selector:
        pod["nodeSelector"] = dict(settings.node_selector)
    if settings.host_network:
        pod["hostNetwork"] = True
    return pod


def manifest(settings: KubeSettings, spec: SessionSpec, scope: str, home: str) -> dict[str, Any]:
    """The Pod (or Job) running session ``spec`` for the repository ``scope`` rooted at ``home``."""
    name = pod_name(scope, spec.name)
    labels = labels_of(scope, spec, name)
    notes = {PREFIX + "session": spec.name, PREFIX + "home": home,
             **{PREFIX + k: spec.labels[k] for k in ("run", "ticket", "agent") if spec.labels.get(k)}}
    if settings.engine == "podman":  # podman 4.3 refuses annotation values over 63 characters (Kubernetes: 256 KiB)
        notes = {k: v for k, v in notes.items() if len(v) <= 63}
    meta = {"name": name, "namespace": settings.namespace, "labels": labels, "annotations": notes}
    template = {"metadata": {"labels": labels, "annotations": notes}, "spec": pod_spec(settings, spec, home)}
    if settings.kind == "job":
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 0, "template": template}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


def as_list(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifests as one `kind: List` object (what `kubectl apply -f -` reads as JSON)."""
    return {"apiVersion": "v1", "kind": "List", "items": manifests}


# A plain scalar other YAML parsers may read as a number, a boolean or null (Go's YAML, which kubectl and podman use,
# reads 08696817 as 8.696817e+06 where PyYAML keeps a string): such strings are written quoted.
_LOOSE = re.compile(r"^([-+.0-9_:eEoOxX]*|[Yy]|[Nn]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|"
                    r"false|False|FALSE|null|Null|NULL|~|\.inf|\.nan)$")


def as_yaml(manifests: list[dict[str, Any]]) -> str:
    """The manifests as a YAML stream (documents separated by ``---``), every string read back as a string by any
    YAML parser."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "'" if _LOOSE.match(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return "".join("---\n" + yaml.dump(m, Dumper=Dumper, sort_keys=False, default_flow_style=False)
                   for m in manifests)
