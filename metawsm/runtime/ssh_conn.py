"""One remote host of the ssh backend: the ssh command line (batch mode, the host's key, ControlMaster connections
reused through a socket in a private folder), remote shell commands, and git over ssh.

Every remote command is one argv whose remote part is a shell text built with ``shlex.quote`` from values that
were checked at the edge (policy schema). Secrets never travel on a command line: files with them are written
through ssh's standard input (see :meth:`SshHost.write_file`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import ExternalError
from metawsm.runtime import proc

CONNECT_TIMEOUT = 10  # seconds for a new connection (ssh ConnectTimeout)
COMMAND_TIMEOUT = 60.0  # seconds for one remote command
PERSIST = 120  # seconds a ControlMaster connection stays open after its last use


@dataclass(frozen=True)
class HostSpec:
    """A host from the policy (`runtime.ssh.hosts[]`)."""

    name: str
    address: str
    user: str = ""
    key: str = ""  # private key file; empty: ssh's own choice (agent, ~/.ssh)
    workdir: str = "/tmp/metawsm"  # absolute folder on the host holding what metawsm makes there
    slots: int = 4  # agent sessions at once on this host
    port: int = 22


def control_dir(configured: str = "") -> Path:
    """The private folder of ControlMaster sockets: ``configured``, else ``<tmp>/metawsm-ssh-<uid>``; created 0700
    and refused when another user owns it or others may enter it (a socket there is a logged-in connection)."""
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / f"metawsm-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise ExternalError(f"cannot make the ssh control folder {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ExternalError(f"the ssh control folder {path} is not a private folder of this user (mode "
                            f"{stat.filemode(info.st_mode)})", hint="remove it, or set runtime.ssh.control_dir")
    return path


class SshHost:
    """Commands on one host over ssh, through one shared ControlMaster connection."""

    def __init__(self, spec: HostSpec, *, control: Path, known_hosts: str = "", ssh: str = "ssh") -> None:
        self.spec = spec
        self.ssh = ssh
        self.target = f"{spec.user}@{spec.address}" if spec.user else spec.address
        # %C: a hash of host, port, user (short: a unix socket path has ~100 bytes)
        # commands never become the master (a master forked from one would hold its output pipes open): they use
        # the shared connection that connect() starts, or connect on their own when there is none
        self.options = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
                        "-o", "ControlMaster=no", "-o", f"ControlPath={control}/%C",
                        "-o", "ServerAliveInterval=15", "-p", str(spec.port)]
        self._connected = False
        if known_hosts:
            self.options += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        if spec.key:
            self.options += ["-i", spec.key, "-o", "IdentitiesOnly=yes"]

    @property
    def name(self) -> str:
        return self.spec.name

    def argv(self, remote: str, *, tty: bool = False) -> list[str]:
        return [self.ssh, *self.options, *(["-t"] if tty else []), self.target, "--", remote]

    def connect(self) -> None:
        """Start the shared connection (``ssh -M -N -f``, kept ControlPersist seconds after its last use) unless
        one is up; a failure here is not an error (the commands then connect on their own, and say why)."""
        if self._connected:
            return
        self._connected = True
        if proc.run([self.ssh, *self.options, "-O", "check", self.target], check=False, timeout=COMMAND_TIMEOUT).ok:
            return
        proc.run_detaching([self.ssh, *self.options, "-o", "ControlMaster=yes", "-o", f"ControlPersist={PERSIST}",
                            "-M", "-N", "-f", self.target], timeout=COMMAND_TIMEOUT)

    def run(self, remote: str, *, input: str | None = None, check: bool = True,
            timeout: float = COMMAND_TIMEOUT) -> proc.Completed:
        """Run the shell text ``remote`` on the host; CommandFailed names the host when it fails and ``check``."""
        self.connect()
        result = proc.run(self.argv(remote), input=input, check=False, timeout=timeout)
        if check and not result.ok:
            if result.code == 255:  # ssh's own failure: no connection, refused key, unknown host key
                raise ExternalError(f"cannot reach ssh host {self.name} ({self.target} port {self.spec.port}): "
                                    f"{proc.tail(result.stderr, 3) or 'ssh exited with 255'}",
                                    hint="check runtime.ssh.hosts (address, user, key) and that its host key is "
                                         "known (runtime.ssh.known_hosts)")
            raise proc.CommandFailed(self.argv(remote), result.code, result.stdout, result.stderr,
                                     hint=f"on ssh host {self.name}")
        return result

    def write_files(self, files: dict[str, str]) -> None:
        """Write each file on the host, readable by its user only, in one ssh call: the contents travel inside
        a script on ssh's standard input (here-documents with a random delimiter), never on a command line."""
        q = shlex.quote
        lines = ["set -e", "umask 077"]
        for path, content in files.items():
            mark = f"METAWSM_EOF_{secrets.token_hex(8)}"
            body = content if content.endswith("\n") or not content else content + "\n"
            lines += [f"mkdir -p {q(str(Path(path).parent))}", f"cat > {q(path + '.tmp')} <<'{mark}'",
                      body + mark, f"mv -f {q(path + '.tmp')} {q(path)}"]
        self.run("sh -s", input="\n".join(lines) + "\n")

    def git_ssh_command(self) -> str:
        """GIT_SSH_COMMAND for git over this host's connection."""
        self.connect()
        return shlex.join([self.ssh, *self.options])

    def git_url(self, path: str) -> str:
        return f"ssh://{self.target}:{self.spec.port}{path}"

    def close(self) -> None:
        """End the shared connection (``ssh -O exit``); nothing when there is none."""
        proc.run([self.ssh, *self.options, "-O", "exit", self.target], check=False, timeout=COMMAND_TIMEOUT)


def short_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]
