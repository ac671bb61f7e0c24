"""A docker daemon of the tests' own (started here, stopped by pid) and the base image, built once per session.

The daemon gets its own data root, exec root, pidfile and socket in a temporary folder, no default bridge and
no iptables rules (agents run with `network: none`), so it touches nothing of the machine's or another
daemon's. The image is `metawsm image build` itself; its root filesystem tarball is kept in a stable cache
folder in the temporary directory (METAWSM_TEST_CACHE, default $TMPDIR/metawsm-tests-cache: tests write nothing
outside temporary folders) so a second run on the same machine skips debootstrap.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backends import sshd

CACHE = Path(os.environ.get("METAWSM_TEST_CACHE") or Path(tempfile.gettempdir()) / "metawsm-tests-cache")
TAG = "metawsm-test:latest"
START_SECONDS = 60.0


@dataclass(frozen=True)
class Dockerd:
    host: str  # unix:///…/docker.sock
    pid: int

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, check=check,
                              timeout=timeout)

    def containers(self, *filters: str) -> list[dict[str, str]]:
        out = self.docker("ps", "-a", "--no-trunc", *(f"--filter={f}" for f in filters), "--format",
                          "{{json .}}").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _why_not() -> str | None:
    for tool in ("dockerd", "docker", "tmux", "git"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs docker.io)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="mwdockerd-", dir="/tmp"))  # short: a unix socket path is at most 107 bytes
    sock = base / "docker.sock"
    log = (base / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "--pidfile",
         str(base / "docker.pid"), "-H", f"unix://{sock}", "--bridge=none", "--iptables=false",
         "--containerd-namespace", f"mw{os.getpid()}", "--containerd-plugins-namespace", f"mwp{os.getpid()}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    daemon = Dockerd(f"unix://{sock}", proc.pid)
    try:
        deadline = time.monotonic() + START_SECONDS
        while daemon.docker("version", check=False, timeout=10).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (base / "dockerd.log").read_text(errors="replace")[-2000:]
                pytest.skip(f"dockerd cannot run here (exit {proc.poll()}): {tail}")
            time.sleep(0.1)
        yield daemon
        leftovers = daemon.containers()
        assert leftovers == [], f"containers left behind: {[c['Names'] for c in leftovers]}"
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            names = daemon.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if names:
                daemon.docker("rm", "-f", *names, check=False)
        _stop(proc.pid)
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def image(dockerd: Dockerd) -> dict[str, object]:
    """`metawsm image build` into the tests' daemon (the rootfs tarball cached across runs)."""
    out = subprocess.run(
        [sys.executable, "-m", "metawsm", "image", "build", "--tag", TAG, "--cache-dir", str(CACHE / "images"),
         "--docker-host", dockerd.host, "--json"],
        capture_output=True, text=True, timeout=1500, cwd="/")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def docker_policy(dockerd: Dockerd, *, per: str = "ticket", extra: str = "") -> str:
    """The policy block running agents in the tests' daemon, without network."""
    return (f"runtime:\n  backend: docker\n  docker:\n    host: {dockerd.host}\n    image: {TAG}\n"
            f"    network: none\n    per: {per}\n    pids: 256\n    memory: 512m\n    cpus: 1\n{extra}")


@pytest.fixture(scope="session")
def server() -> Iterator[sshd.Sshd]:
    """A private sshd on 127.0.0.1 (throwaway keys), shared by every ssh test of the session; stopped by pid."""
    why = sshd.missing()
    if why:
        pytest.skip(why)
    with tempfile.TemporaryDirectory(prefix="mwsshd-") as base, sshd.running(Path(base) / "sshd") as found:
        yield found


@pytest.fixture
def control() -> Iterator[Path]:
    """A short private folder for the ControlMaster sockets (a unix socket path has ~100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="mwc-", dir="/tmp") as path:
        yield Path(path)
        for sock in Path(path).iterdir():  # a connection a test left open (cleanup closes its own): end it
            subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "any"],
                           capture_output=True, timeout=30)
