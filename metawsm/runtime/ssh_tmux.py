"""tmux on a remote host: the local backend's :class:`~metawsm.runtime.tmux.Tmux` with every tmux invocation sent
over ssh (``tmux -S <socket under the host's workdir> …``), so sessions, labels, exit statuses, batching and
capture behave exactly as they do locally."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from metawsm.errors import ExternalError
from metawsm.runtime.ssh_conn import SshHost
from metawsm.runtime.tmux import Tmux

REMOTE_PATH = "/usr/local/bin:/usr/bin:/bin"


class RemoteTmux(Tmux):
    """One tmux server on ``host``, at ``socket`` (a path on the host)."""

    def __init__(self, host: SshHost, socket: str, *, path_prefix: str = "") -> None:
        super().__init__(f"{host.name}:{socket}")
        self.host, self.socket = host, socket
        self.tmux_bin = "tmux"  # the host's own tmux (the pane's exit status is recorded with it)
        self.path = f"{path_prefix}:{REMOTE_PATH}" if path_prefix else REMOTE_PATH

    def session_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """Only PATH travels on tmux's command line; the session's variables come from its env file (see
        :mod:`metawsm.runtime.ssh`), so no value reaches a command line or an error message."""
        return {"PATH": self.path}

    def remote(self, *args: str) -> str:
        return shlex.join(["tmux", "-u", "-S", self.socket, *args])  # -u: tabs in -F stay tabs in any locale

    def _cmd(self, *args: str, check: bool = True) -> tuple[int, list[str], list[str]]:
        result = self.host.run(self.remote(*args), check=False)
        if result.code == 255:  # ssh itself failed: never mistaken for "no tmux server"
            self.host.run("true")  # raises the located connection error
        out = result.stdout.split("\n")
        while out and out[-1] == "":
            out.pop()
        err = [line for line in result.stderr.split("\n") if line]
        if check and result.code != 0:
            raise ExternalError(f"tmux on ssh host {self.host.name} failed with exit code {result.code}: "
                                f"{' '.join(args[:1])}\n" + "\n".join("  " + line for line in err[-10:]))
        return result.code, out, err

    def load_buffer(self, buffer: str, text: str) -> None:
        """Put ``text`` in paste buffer ``buffer`` on the host (through ssh's stdin: no command-line limit)."""
        self.host.run(self.remote("load-buffer", "-b", buffer, "-"), input=text)

    def kill_server(self) -> None:
        self._cmd("kill-server", check=False)
