"""The `runtime:` policy block, and the older `tmux:` spelling of its settings (still read)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from metawsm.config.loader import default_policy, policy_from_bytes
from metawsm.errors import ConfigError


class Case(NamedTuple):
    id: str
    yaml: str
    socket: str
    pattern: str


CASES = [
    Case("defaults", "", "metawsm-{repo}", "{plan}-{ticket}-{agent}"),
    Case("older-tmux-keys", "tmux: {socket_name: old, session_pattern: '{ticket}-{agent}'}\n", "old",
         "{ticket}-{agent}"),
    Case("runtime-keys", "runtime: {session_pattern: '{agent}-x', local: {socket_name: new}}\n", "new", "{agent}-x"),
    Case("runtime-wins", "tmux: {socket_name: old}\nruntime: {local: {socket_name: new}}\n", "new",
         "{plan}-{ticket}-{agent}"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_both_spellings_hold_the_value_in_effect(case: Case) -> None:
    policy = policy_from_bytes(".metawsm/policy.yaml", case.yaml.encode())
    assert (policy.tmux.socket_name, policy.runtime.local.socket_name) == (case.socket, case.socket)
    assert (policy.tmux.session_pattern, policy.runtime.session_pattern) == (case.pattern, case.pattern)


def test_docker_settings_are_typed_with_their_defaults() -> None:
    policy = policy_from_bytes(".metawsm/policy.yaml", b"runtime:\n  backend: docker\n  docker:\n"
                               b"    cpus: 1.5\n    memory: 2g\n    env: [ANTHROPIC_API_KEY]\n")
    docker = policy.runtime.docker
    assert (policy.runtime.backend, docker.cpus, docker.memory, docker.env, docker.pids, docker.per) == (
        "docker", 1.5, "2g", ("ANTHROPIC_API_KEY",), 0, "ticket")
    assert default_policy().runtime.backend == "local"


@pytest.mark.parametrize(("yaml", "where"), [
    ("runtime: {backend: nomad}\n", "runtime.backend"),
    ("runtime: {kubernetes: {limits: {memory: '4 GB'}}}\n", "runtime.kubernetes.limits.memory"),
    ("runtime: {kubernetes: {kind: deployment}}\n", "runtime.kubernetes.kind"),
    ("runtime: {docker: {env: ['A=1']}}\n", "runtime.docker.env[0]"),
    ("runtime: {docker: {memory: 'lots'}}\n", "runtime.docker.memory"),
    ("runtime: {docker: {network: '--privileged'}}\n", "runtime.docker.network"),
    ("runtime: {docker: {user: 'root; id'}}\n", "runtime.docker.user"),
    ("runtime: {session_pattern: '{ticket}'}\n", "runtime.session_pattern"),
])
def test_bad_runtime_settings_are_located(yaml: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_from_bytes(".metawsm/policy.yaml", yaml.encode())
    assert where in info.value.render()
