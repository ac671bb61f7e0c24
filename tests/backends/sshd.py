"""A private sshd for the ssh backend's tests: 127.0.0.1 on a free port, a throwaway host key and user key under
a temporary folder, its own config (`/usr/sbin/sshd -D -f <config>`), stopped by pid. Nothing of the machine's
ssh setup (system sshd, /etc/ssh host keys, ~/.ssh) is used or changed."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    user: str
    key: Path  # the user's private key
    known_hosts: Path  # a known_hosts file naming this server's host key
    pid: int


def missing() -> str | None:
    """Why the ssh tests cannot run here (None: they can)."""
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen"), shutil.which("tmux"), shutil.which("git")):
        if not tool or not Path(tool).exists():
            return "openssh-server, openssh-client, tmux and git are needed (.ci/run installs openssh-server)"
    if os.geteuid() != 0:
        return "the test sshd runs as root (privilege separation); run the ssh backend tests as root, as CI does"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(base: Path) -> Iterator[Sshd]:
    """An sshd serving the current user with a fresh key pair; stopped (by pid) on exit."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o700)
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"metawsm-test-{name}",
                        "-f", str(base / name)], check=True, capture_output=True)
    (base / "authorized_keys").write_text((base / "user_key.pub").read_text(encoding="utf-8"), encoding="utf-8")
    (base / "authorized_keys").chmod(0o600)
    port = _free_port()
    user = getpass.getuser()
    config = base / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {base / 'host_key'}", f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", f"AllowUsers {user}",
        "StrictModes no", "UsePAM no", "PrintMotd no", "PrintLastLog no", "LogLevel ERROR",
        "MaxSessions 100", "MaxStartups 100:30:200", "PermitUserEnvironment no", "X11Forwarding no",
        "AllowTcpForwarding no", ""]), encoding="utf-8")
    host_pub = (base / "host_key.pub").read_text(encoding="utf-8").split()
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n", encoding="utf-8")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder (root only)
    with (base / "sshd.log").open("wb") as errors:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(base / 'sshd.log').read_text(errors='replace')}")
            time.sleep(0.05)
        yield Sshd(port, user, base / "user_key", known, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
