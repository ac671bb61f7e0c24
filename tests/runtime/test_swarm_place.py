"""The swarm backend without a swarm: its policy block, where placement puts a new session, service names, and the
`docker service create` command line (what makes it a one-shot, pinned, labelled service)."""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import pytest

from metawsm.config.loader import policy_from_bytes
from metawsm.errors import ConfigError, ExternalError
from metawsm.runtime.base import NoCapacity, SessionSpec
from metawsm.runtime.settings import PlacementRule, SwarmNode, SwarmSettings
from metawsm.runtime.swarm_cli import create_args, service_name
from metawsm.runtime.swarm_place import choose

POLICY = b"""runtime:
  backend: swarm
  swarm:
    nodes:
      - {name: n1, host: unix:///run/docker.sock, labels: {pool: a}, slots: 2}
      - {name: n2, host: ssh://agents@build2, labels: {pool: b, gpu: "yes"}}
    placement:
      - {ticket: "GPU-*", labels: {gpu: "yes"}}
      - {agent: review, labels: {pool: a}}
    memory: 2g
    env: [ANTHROPIC_API_KEY]
"""


def test_the_policy_block_becomes_typed_settings() -> None:
    policy = policy_from_bytes(".metawsm/policy.yaml", POLICY)
    settings = SwarmSettings.of(policy.runtime.swarm)
    assert policy.runtime.backend == "swarm"
    assert settings.nodes == (SwarmNode("n1", "unix:///run/docker.sock", {"pool": "a"}, 2),
                              SwarmNode("n2", "ssh://agents@build2", {"pool": "b", "gpu": "yes"}, 4))
    assert settings.placement == (PlacementRule({"gpu": "yes"}, "GPU-*", "*"), PlacementRule({"pool": "a"}, "*", "review"))
    assert (settings.memory, settings.env, settings.network, settings.manager, settings.image) == (
        "2g", ("ANTHROPIC_API_KEY",), "", "", "metawsm-base:latest")


@pytest.mark.parametrize(("yaml", "where"), [
    ("runtime: {swarm: {nodes: [{name: n1}]}}\n", "runtime.swarm.nodes[0]"),
    ("runtime: {swarm: {nodes: [{name: n1, host: /run/docker.sock}]}}\n", "runtime.swarm.nodes[0].host"),
    ("runtime: {swarm: {nodes: [{name: n1, host: 'unix:///x', labels: {pool: 'a b'}}]}}\n",
     "runtime.swarm.nodes[0].labels.pool"),
    ("runtime: {swarm: {nodes: [{name: n1, host: 'unix:///x', slots: 0}]}}\n", "runtime.swarm.nodes[0].slots"),
    ("runtime: {swarm: {placement: [{ticket: 'A-*'}]}}\n", "runtime.swarm.placement[0]"),
    ("runtime: {swarm: {network: '--privileged'}}\n", "runtime.swarm.network"),
])
def test_bad_swarm_settings_are_located(yaml: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_from_bytes(".metawsm/policy.yaml", yaml.encode())
    assert where in info.value.render()


NODES = (SwarmNode("n1", "unix:///a", {"pool": "a"}, 2), SwarmNode("n2", "unix:///b", {"pool": "b", "gpu": "yes"}, 2),
         SwarmNode("n3", "unix:///c", {"pool": "b"}, 1))
RULES = (PlacementRule({"gpu": "yes"}, "GPU-*"), PlacementRule({"pool": "b"}, "*", "review"))


class Place(NamedTuple):
    id: str
    ticket: str
    agent: str
    load: dict[str, int]
    node: str | None  # None: no capacity


PLACES = [
    Place("no-rule-any-node-most-free", "T-1", "impl", {"n1": 1}, "n2"),
    Place("ties-go-to-the-first-node", "T-1", "impl", {}, "n1"),
    Place("ticket-rule", "GPU-7", "impl", {}, "n2"),
    Place("ticket-rule-before-agent-rule", "GPU-7", "review", {"n2": 1, "n3": 0}, "n2"),
    Place("agent-rule-most-free-of-its-nodes", "T-1", "review", {"n2": 2}, "n3"),
    Place("every-matching-node-full", "T-1", "review", {"n2": 2, "n3": 1}, None),
    Place("full-ticket-rule-node-while-others-free", "GPU-1", "impl", {"n2": 2}, None),
]


@pytest.mark.parametrize("case", PLACES, ids=[c.id for c in PLACES])
def test_placement_by_labels_then_free_slots(case: Place) -> None:
    if case.node is None:
        with pytest.raises(NoCapacity, match="is full"):
            choose(NODES, RULES, case.ticket, case.agent, case.load)
    else:
        assert choose(NODES, RULES, case.ticket, case.agent, case.load) == case.node


def test_a_rule_no_node_satisfies_is_an_error_naming_the_labels() -> None:
    with pytest.raises(ExternalError, match="zone=eu"):
        choose(NODES, (PlacementRule({"zone": "eu"}),), "T-1", "impl", {})
    with pytest.raises(ExternalError, match=r"runtime\.swarm\.nodes is empty"):
        choose((), (), "T-1", "impl", {})


def test_service_names_are_valid_and_distinct() -> None:
    names = {service_name("ab12cd34", s) for s in ("demo-T-1-impl", "demo-T-1.impl", "demo-T-1:impl", "x" * 200,
                                                    "x" * 201, "été")}
    assert len(names) == 6
    assert service_name("ab12cd34", "demo-T-1-impl") == "mw-ab12cd34-demo-T-1-impl"
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", name), name


def test_the_service_runs_once_pinned_labelled_limited_with_secrets_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_TEST_TOKEN", "s3cr3t")
    settings = SwarmSettings(nodes=NODES, image="img:1", cpus=1.5, memory="1g", pids=64, network="agents",
                             env=("MW_TEST_TOKEN", "MW_TEST_UNSET"), mount_metawsm=False)
    spec = SessionSpec("s1", "/repo/.metawsm/workspaces/T-1", {}, None, mounts=("/repo", "/repo/.metawsm/workspaces/T-1"))
    argv = create_args(settings, "mw-x-s1", "NODEID", {"repo": "x", "run": "r1"}, spec, "/repo")
    joined = " ".join(argv)
    assert argv[:3] == ["service", "create", "-d"]
    for expected in ("--restart-condition none", "--constraint node.id==NODEID", "--replicas 1", "--no-resolve-image",
                     "--init", "--limit-cpu 1.5", "--limit-memory 1g", "--limit-pids 64", "--network agents",
                     "--label metawsm.repo=x", "--container-label metawsm.run=r1",
                     f"--user {os.getuid()}:{os.getgid()}", "--workdir /repo/.metawsm/workspaces/T-1",
                     "--mount type=bind,source=/repo,target=/repo ",
                     "--env MW_TEST_TOKEN ", "--env METAWSM_KICK=0"):
        assert expected in joined + " ", expected
    assert argv[-3:] == ["img:1", "sleep", "infinity"]
    assert "s3cr3t" not in joined and "MW_TEST_UNSET" not in joined  # by name only; an unset name is left out
