"""The `docker run` command line of an agent container: labels, user, limits, network, mounts, environment.

Mounts: the paths the session's spec names (repository, worktrees) read-write at their own absolute paths;
with ``mount_metawsm``, the Python environment running metawsm (and its interpreter's prefix, and the source
of an editable install) read-only at their own paths, its bin first on PATH. Environment: PATH, HOME, TERM,
METAWSM_KICK=0 (an agent's signal does not start a reconcile inside the container: the daemon, the
operator or `apply --wait` outside move the run on), the git identity of the repository, and the names in
``env`` — passed as ``-e NAME`` so docker reads each value from metawsm's own environment.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.base import SessionSpec
from metawsm.runtime.settings import DockerSettings

STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SYSTEM_PREFIXES = ("/", "/usr")  # never mounted over the image's own
_IDENTITY = (("GIT_AUTHOR_NAME", "user.name"), ("GIT_AUTHOR_EMAIL", "user.email"),
             ("GIT_COMMITTER_NAME", "user.name"), ("GIT_COMMITTER_EMAIL", "user.email"))


def metawsm_paths() -> list[str]:
    """What the running metawsm needs, read-only: its environment, the interpreter's prefix (unless it is the
    system's own), and the source folder of an editable install."""
    import metawsm

    paths = [sys.prefix]
    if sys.base_prefix != sys.prefix and sys.base_prefix not in _SYSTEM_PREFIXES:
        paths.append(sys.base_prefix)
    source = str(Path(metawsm.__file__).resolve().parent.parent)
    if not any(source == p or source.startswith(p.rstrip("/") + "/") for p in paths):
        paths.append(source)
    return paths


def bind(path: str, *, readonly: bool = False, into: str = "a container") -> list[str]:
    """A docker `--mount` of ``path`` at its own place (docker run and docker service create alike)."""
    if "," in path or "=" in path or not Path(path).is_absolute():
        raise ExternalError(f"cannot mount {path!r} into {into}: an absolute path without ',' or '=' is needed")
    return ["--mount", f"type=bind,source={path},target={path}" + (",readonly" if readonly else "")]


def _within(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@dataclass(frozen=True)
class Placement:
    """What an agent's container (docker, swarm task or pod) gets from this machine: the paths it writes at
    their own places, metawsm's own paths read-only, and its environment (secrets are passed by name apart)."""

    writable: tuple[str, ...]
    readonly: tuple[str, ...]
    env: dict[str, str]


def placement(spec: SessionSpec, home: str, *, mount_metawsm: bool, into: str = "a container") -> Placement:
    """The mounts and environment of ``spec``'s container: its mounts (else its cwd and the repository),
    metawsm's environment read-only with its bin first on PATH (``mount_metawsm``), and the git identity."""
    writable = sorted(set(spec.mounts or (spec.cwd, *([home] if home else []))))
    for path in writable:
        if not Path(path).is_absolute():
            raise ExternalError(f"cannot mount {path!r} into {into}: an absolute path is needed")
    readonly = [p for p in metawsm_paths() if not _within(p, writable)] if mount_metawsm else []
    path = f"{Path(sys.prefix) / 'bin'}:{STANDARD_PATH}" if mount_metawsm else STANDARD_PATH
    # LANG: tmux in the C locale prints a tab in a format as "_" (the pane listing is tab-separated)
    env = {"PATH": path, "HOME": "/tmp", "TERM": "xterm-256color", "LANG": "C.UTF-8", "METAWSM_KICK": "0",
           **identity(home)}
    return Placement(tuple(writable), tuple(readonly), env)


def identity(home: str) -> dict[str, str]:
    """The git identity commits inside the container get: GIT_AUTHOR_*/GIT_COMMITTER_* as set here, else the
    repository's user.name / user.email."""
    found: dict[str, str] = {}
    config: dict[str, str] = {}
    for variable, key in _IDENTITY:
        if os.environ.get(variable):
            found[variable] = os.environ[variable]
            continue
        if key not in config and home:
            got = proc.run(["git", "-C", home, "config", "--get", key], check=False, timeout=30)
            config[key] = got.stdout.strip() if got.ok else ""
        if config.get(key):
            found[variable] = config[key]
    return found


# The container's command: on its first start, the tmux invocation making its first sessions (its arguments
# follow, as "$@": nothing is quoted into a string), then a marker saying they exist (a `docker exec` arriving
# before it waits for it, see ContainerTmux), then sleep as the container's life. A container started again
# (`docker start`) skips the tmux part: metawsm makes what it needs then.
READY = "/tmp/.metawsm-ready"
_MAIN = (f'[ -e {READY} ] || tmux -L "$0" "$@"; : > {READY}; exec sleep infinity')


def run_args(settings: DockerSettings, name: str, labels: dict[str, str], spec: SessionSpec,
             home: str = "", tmux: tuple[str, list[str]] | None = None) -> list[str]:
    """The arguments of `docker run` (after the client and its -H) starting container ``name`` for ``spec``;
    with ``tmux`` (a socket name and a tmux command line), the container runs it as it starts."""
    argv = ["run", "-d", "--init", "--name", name]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    argv += ["--user", settings.user or f"{os.getuid()}:{os.getgid()}", "--network", settings.network]
    if settings.cpus:
        argv += ["--cpus", f"{settings.cpus:g}"]
    if settings.memory:
        argv += ["--memory", settings.memory]
    if settings.pids:
        argv += ["--pids-limit", str(settings.pids)]
    plan = placement(spec, home, mount_metawsm=settings.mount_metawsm)
    for path in plan.writable:
        argv += bind(path)
    for path in plan.readonly:
        argv += bind(path, readonly=True)
    for key, value in plan.env.items():
        argv += ["-e", f"{key}={value}"]
    for secret in settings.env:
        if secret in os.environ:
            argv += ["-e", secret]  # by name: docker reads the value from its own environment
    if tmux is None:
        return [*argv, "-w", spec.cwd, settings.image, "sleep", "infinity"]
    return [*argv, "-w", spec.cwd, settings.image, "sh", "-c", _MAIN, tmux[0], *tmux[1]]
