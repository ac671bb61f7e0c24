"""Podman of the tests' own for the kubernetes backend: its configuration, storage, run root and network files in a
temporary folder (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF point there for the test session, so nothing of the
machine's podman setup is read or changed), and the base image imported from the rootfs tarball the docker tests
cache (`metawsm image build` with podman as its docker client; debootstrap runs only when no tarball is cached).

podman 4.3 (Debian 12) runs Kubernetes Pod manifests with `podman kube play` (no Jobs). The VM lacks
CAP_SYS_RESOURCE, so `default_ulimits` is emptied; podman's pause image needs `catatonit`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.backends.conftest import CACHE

TAG = "localhost/metawsm-kube-test:latest"
TOOLS = ("podman", "catatonit", "tmux", "git")


@dataclass(frozen=True)
class Podman:
    base: Path
    env: dict[str, str]  # CONTAINERS_CONF, CONTAINERS_STORAGE_CONF

    def run(self, *args: str, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout,
                              input=input, env={**os.environ, **self.env})

    def pods(self) -> list[dict[str, object]]:
        return json.loads(self.run("pod", "ps", "--format", "json").stdout or "[]") or []

    def containers(self) -> list[dict[str, object]]:
        return json.loads(self.run("ps", "-a", "--format", "json").stdout or "[]") or []


def missing() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs podman and catatonit)"
    if os.geteuid() != 0:
        return "the podman tests run rootful podman (root needed)"
    return None


def _write_config(base: Path) -> dict[str, str]:
    (base / "containers.conf").write_text(
        "[containers]\ndefault_ulimits = []\n"  # the VM lacks CAP_SYS_RESOURCE: podman's default nofile fails
        "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
        f"tmp_dir = \"{base / 'tmp'}\"\nvolume_path = \"{base / 'volumes'}\"\n"
        f"[network]\nnetwork_config_dir = \"{base / 'net'}\"\n", encoding="utf-8")
    (base / "storage.conf").write_text(
        f"[storage]\ndriver = \"overlay\"\ngraphroot = \"{base / 'root'}\"\nrunroot = \"{base / 'run'}\"\n",
        encoding="utf-8")
    return {"CONTAINERS_CONF": str(base / "containers.conf"), "CONTAINERS_STORAGE_CONF": str(base / "storage.conf")}


@contextlib.contextmanager
def running() -> Iterator[Podman]:
    """A private podman with the base image as :data:`TAG`; afterwards every pod and container in that private
    storage (only the tests' own can be there) is removed, then the folder (the image with it)."""
    base = Path(tempfile.mkdtemp(prefix="mwpodman-", dir="/tmp"))
    # podman (as root) keeps an image blob cache in /var/lib/containers/cache whatever its configuration says:
    # when that folder is made by these tests, they remove it afterwards
    shared = Path("/var/lib/containers")
    made_shared = not shared.exists()
    env = _write_config(base)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # metawsm (in-process and its subprocesses) runs podman with this configuration
    podman = Podman(base, env)
    try:
        from metawsm.runtime.docker_cli import DockerCli
        from metawsm.runtime.image import build_image, make_spec

        build_image(make_spec(TAG, None, None, [], str(CACHE / "images")), DockerCli("podman"))
        yield podman
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            podman.run("pod", "rm", "-a", "-f", "-t", "0", check=False)
            podman.run("rm", "-a", "-f", "-t", "0", check=False)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(base, ignore_errors=True)
        if made_shared:
            shutil.rmtree(shared, ignore_errors=True)
