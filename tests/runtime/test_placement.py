"""docker run, swarm services and kubernetes pods show an agent the same paths and environment
(runtime/docker_run.placement), each in its own syntax."""

from __future__ import annotations

import sys

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.docker_run import metawsm_paths, placement, run_args
from metawsm.runtime.kube_manifest import pod_spec
from metawsm.runtime.settings import DockerSettings, KubeSettings, SwarmSettings
from metawsm.runtime.swarm_cli import create_args

SPEC = SessionSpec("s1", "/repo/.metawsm/workspaces/T-1", {}, None, mounts=("/repo/.metawsm/workspaces/T-1", "/repo"))


def _mounts(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]


def _env(argv: list[str], flag: str) -> dict[str, str]:
    pairs = [argv[i + 1].partition("=") for i, a in enumerate(argv) if a == flag]
    return {k: v for k, sep, v in pairs if sep}


@pytest.mark.parametrize("mount_metawsm", [True, False])
def test_the_three_backends_mount_and_set_the_same(mount_metawsm: bool) -> None:
    plan = placement(SPEC, "/repo", mount_metawsm=mount_metawsm)
    assert plan.writable == ("/repo", "/repo/.metawsm/workspaces/T-1")
    assert plan.readonly == (tuple(metawsm_paths()) if mount_metawsm else ())
    assert plan.env["PATH"].startswith(f"{sys.prefix}/bin:") == mount_metawsm
    assert plan.env["METAWSM_KICK"] == "0" and plan.env["LANG"] == "C.UTF-8"
    expected = [f"type=bind,source={p},target={p}" for p in plan.writable] + [
        f"type=bind,source={p},target={p},readonly" for p in plan.readonly]
    docker = run_args(DockerSettings(mount_metawsm=mount_metawsm), "c1", {}, SPEC, "/repo")
    swarm = create_args(SwarmSettings(mount_metawsm=mount_metawsm), "mw-x-s1", "NODE", {}, SPEC, "/repo")
    assert _mounts(docker) == _mounts(swarm) == expected
    assert _env(docker, "-e") == _env(swarm, "--env") == plan.env
    pod = pod_spec(KubeSettings(mount_metawsm=mount_metawsm), SPEC, "/repo")
    container = pod["containers"][0]
    assert [(m["mountPath"], m.get("readOnly", False)) for m in container["volumeMounts"]] == [
        *((p, False) for p in plan.writable), *((p, True) for p in plan.readonly)]
    assert {e["name"]: e["value"] for e in container["env"]} == plan.env


@pytest.mark.parametrize("into", ["a container", "a service", "a pod"])
def test_a_relative_path_is_refused_naming_where_it_would_go(into: str) -> None:
    spec = SessionSpec("s1", "work/T-1", {}, None)
    with pytest.raises(ExternalError, match=f"cannot mount 'work/T-1' into {into}: an absolute path is needed"):
        placement(spec, "", mount_metawsm=False, into=into)


def test_a_path_docker_cannot_spell_in_a_mount_is_refused() -> None:
    spec = SessionSpec("s1", "/repo/a,b", {}, None)
    with pytest.raises(ExternalError, match="without ',' or '='"):
        run_args(DockerSettings(mount_metawsm=False), "c1", {}, spec, "")
