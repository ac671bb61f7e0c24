"""`metawsm k8s render`: every manifest the kubernetes backend makes validates against the real Kubernetes JSON
schemas (kubernetes-validate bundles them, offline; strict: no unknown field) for the oldest and newest versions
it ships, its names and labels follow the API server's syntax rules, and bad input is refused with a location."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_metawsm
from tests.engine.conftest import commit_all

pytestmark = [pytest.mark.backends, pytest.mark.slow]

kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extra")

# the API server's rules (k8s.io/apimachinery/pkg/util/validation)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")

POLICY = """\
runtime:
  backend: kubernetes
  kubernetes:
    kind: {kind}
    context: team-cluster
    namespace: agents
    image: registry.example.internal/metawsm-agent:1.4
    image_pull_policy: Always
    requests: {{cpu: 500m, memory: 1Gi}}
    limits: {{cpu: "2", memory: 4Gi, ephemeral-storage: 10Gi}}
    service_account: metawsm-agent
    node_selector: {{kubernetes.io/arch: amd64, pool: agents}}
    env_secrets: [anthropic-key, openai-key]
{extra}"""
LONG_PLAN = ("name: a-plan-whose-name-is-long-enough-to-overflow-kubernetes-labels\n"
             "tickets: [DEMO-1, DEMO-2]\nagents:\n"
             "  - {name: writer, profile: shell, run: 'true'}\n"
             "  - {name: Reviewer_2, profile: shell, run: 'true'}\n")


def _versions() -> list[str]:
    from kubernetes_validate import utils

    found = sorted({".".join(v.split(".")[:2]) for v in utils.all_versions()}, key=lambda v: tuple(map(int, v.split("."))))
    return [found[0], found[-1]]


def _setup(repo: Path, kind: str = "pod", extra: str = "") -> None:
    assert run_metawsm("init", "--demo", cwd=repo).returncode == 0
    (repo / ".metawsm" / "policy.yaml").write_text(POLICY.format(kind=kind, extra=extra), encoding="utf-8")
    (repo / "plans" / "long.yaml").write_text(LONG_PLAN, encoding="utf-8")
    commit_all(repo, "kubernetes policy")


def _check_syntax(item: dict) -> None:
    meta = item["metadata"]
    assert DNS_LABEL.match(meta["name"]) and len(meta["name"]) <= 63, meta["name"]
    pod = item["spec"]["template"] if item["kind"] == "Job" else item
    for labels in (meta["labels"], pod["metadata"]["labels"] if item["kind"] == "Job" else meta["labels"]):
        for key, value in labels.items():
            assert LABEL_KEY.match(key) and LABEL_VALUE.match(value), (key, value)
    spec = pod["spec"]
    for volume in spec["volumes"]:
        assert DNS_LABEL.match(volume["name"]), volume
    for container in spec["containers"]:
        for group in container.get("resources", {}).values():
            assert all(QUANTITY.match(q) for q in group.values()), group


@pytest.mark.parametrize("kind", ["pod", "job"])
def test_rendered_manifests_validate_against_the_kubernetes_schemas(repo: Path, kind: str) -> None:
    _setup(repo, kind)
    out = run_metawsm("k8s", "render", "--json", cwd=repo)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    items = listed["items"]
    # the demo plan (2 tickets), the example plan (1) and the long plan (2 tickets x 2 agents)
    assert len(items) == 7 and {i["kind"] for i in items} == {"Pod" if kind == "pod" else "Job"}
    for item in items:
        for version in _versions():
            kv.validate(item, version, strict=True)  # raises ValidationError naming the path
        _check_syntax(item)
    names = [i["metadata"]["name"] for i in items]
    assert len(set(names)) == len(names)
    # YAML (the default output) is the same objects
    docs = [d for d in yaml.safe_load_all(run_metawsm("k8s", "render", cwd=repo).stdout) if d]
    assert docs == items
    first = items[0]
    pod = first["spec"]["template"]["spec"] if kind == "job" else first["spec"]
    container = pod["containers"][0]
    assert first["metadata"]["namespace"] == "agents"
    assert container["envFrom"] == [{"secretRef": {"name": "anthropic-key"}}, {"secretRef": {"name": "openai-key"}}]
    assert not [e for e in container["env"] if "KEY" in e["name"] or "TOKEN" in e["name"]]  # secrets by name only
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                      "limits": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"}}
    assert pod["serviceAccountName"] == "metawsm-agent"
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64", "pool": "agents"}
    assert container["imagePullPolicy"] == "Always"
    # hostPath volumes show the repository and the worktree at their own absolute paths
    paths = {v["hostPath"]["path"]: m["mountPath"] for v, m in zip(pod["volumes"], container["volumeMounts"], strict=True)}
    assert paths[str(repo)] == str(repo)
    assert paths[container["workingDir"]] == container["workingDir"]
    if kind == "job":
        assert first["spec"]["backoffLimit"] == 0
        assert first["spec"]["template"]["metadata"]["labels"] == first["metadata"]["labels"]
    long = [i for i in items if "a-plan-whose" in i["metadata"]["annotations"]["metawsm/session"]]
    assert {i["metadata"]["annotations"]["metawsm/agent"] for i in long} == {"writer", "Reviewer_2"}


def test_a_claim_holds_every_path_or_the_render_is_refused(repo: Path) -> None:
    _setup(repo, extra=f"    claim: shared-work\n    claim_path: {repo.parent}\n    mount_metawsm: false\n")
    out = run_metawsm("k8s", "render", "--plan", "demo", "--kind", "job", "--json", cwd=repo)
    assert out.returncode == 0, out.stderr
    for item in json.loads(out.stdout)["items"]:
        kv.validate(item, _versions()[-1], strict=True)
        spec = item["spec"]["template"]["spec"]
        assert spec["volumes"] == [{"name": "work", "persistentVolumeClaim": {"claimName": "shared-work"}}]
        assert spec["containers"][0]["volumeMounts"] == [{"name": "work", "mountPath": str(repo.parent)}]
    (repo / ".metawsm" / "policy.yaml").write_text(
        POLICY.format(kind="pod", extra="    claim: shared-work\n    claim_path: /srv/elsewhere\n"), encoding="utf-8")
    refused = run_metawsm("k8s", "render", "--plan", "demo", cwd=repo)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "plans/demo.yaml: agent writer of DEMO-1: runtime.kubernetes.claim_path '/srv/elsewhere' does not hold" \
        in refused.stderr, refused.stderr


def test_bad_input_is_refused_with_its_place(repo: Path) -> None:
    assert run_metawsm("init", "--demo", cwd=repo).returncode == 0
    local = run_metawsm("k8s", "render", cwd=repo)  # the demo policy runs agents locally
    assert local.returncode == 2 and "no agent of plan demo, example runs on kubernetes" in local.stderr
    assert "--all" in local.stderr
    assert run_metawsm("k8s", "render", "--all", "--plan", "demo", cwd=repo).returncode == 0
    unknown = run_metawsm("k8s", "render", "--plan", "nope", cwd=repo)
    assert unknown.returncode == 2 and "unknown plan 'nope'" in unknown.stderr
    bad_kind = run_metawsm("k8s", "render", "--kind", "deployment", cwd=repo)
    assert bad_kind.returncode == 2 and "--kind" in bad_kind.stderr
    (repo / ".metawsm" / "policy.yaml").write_text(
        "runtime:\n  backend: kubernetes\n  kubernetes:\n    requests: {cpu: lots}\n    namespace: Agents\n",
        encoding="utf-8")
    invalid = run_metawsm("k8s", "render", cwd=repo)
    assert invalid.returncode == 2, invalid.stderr
    assert ".metawsm/policy.yaml:4:" in invalid.stderr and "runtime.kubernetes.requests.cpu" in invalid.stderr
    assert ".metawsm/policy.yaml:5:" in invalid.stderr and "runtime.kubernetes.namespace" in invalid.stderr
