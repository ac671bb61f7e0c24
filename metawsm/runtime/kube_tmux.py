"""tmux inside one pod (:class:`~metawsm.runtime.tmux_exec.ExecTmux`), every invocation run through the engine's
exec (``kubectl exec POD -c agent -- tmux -u -L metawsm …``), and each session's variables in an env
file written through exec's standard input (mode 0600 inside the pod), never on a command line."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.kube_cli import KubeEngine
from metawsm.runtime.kube_manifest import ENV_DIR, SOCKET
from metawsm.runtime.tmux_exec import ExecTmux

TIMEOUT = 120.0


def env_file(session: str) -> str:
    return f"{ENV_DIR}/{session}.env"


class PodTmux(ExecTmux):
    """The tmux server in pod ``pod``."""

    def __init__(self, engine: KubeEngine, pod: str, *, fresh: bool = False) -> None:
        super().__init__(SOCKET, f"pod {pod}", fresh=fresh)
        self.engine, self.pod = engine, pod

    def argv(self, *args: str, stdin: bool = False, tty: bool = False) -> list[str]:
        # -u: tabs in -F formats stay tabs whatever the locale
        return self.engine.exec_argv(self.pod, ["tmux", "-u", "-L", SOCKET, *args], stdin=stdin, tty=tty)

    def session_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {}  # the pod's own environment plus the session's env file (see write_env)

    def write_env(self, files: Mapping[str, Mapping[str, str]]) -> None:
        """Write each session's variables to its env file in the pod, all through one exec's stdin."""
        script = ["set -e", "umask 077", f"mkdir -p {ENV_DIR}"]
        for session, env in files.items():
            body = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
            marker = "METAWSM_ENV_END"
            if marker in body:
                raise ExternalError(f"the environment of session {session!r} contains {marker}")
            script.append(f"cat > {shlex.quote(env_file(session))} <<'{marker}'\n{body}{marker}")
        proc.run(self.engine.exec_argv(self.pod, ["/bin/sh"], stdin=True), input="\n".join(script) + "\n",
                 timeout=TIMEOUT)

    def remove_env(self, session: str) -> None:
        proc.run(self.engine.exec_argv(self.pod, ["rm", "-f", env_file(session)]), check=False, timeout=TIMEOUT)
