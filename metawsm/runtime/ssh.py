"""The `ssh` Runtime: agent sessions are tmux sessions on remote hosts (policy `runtime.ssh.hosts`).

For each ticket worktree a session needs, the host gets a copy to work in: a bare mirror of the repository under
the host's workdir (``<workdir>/<repo id>/<mirror id>.git``) receives the ticket branch by ``git push`` over ssh,
and a worktree of that mirror on the branch (``<workdir>/<repo id>/<mirror id>-<branch>``) is the session's
working folder. The agent's commits come back by ``git fetch`` over ssh into the local worktree
(:meth:`SshRuntime.collect`, when the agent signals completion), so checks, the gate and close work on the local
worktree as always. Everything metawsm makes on a host lives under its workdir: the mirror, the worktrees (each
with a ``.meta`` file naming its run, ticket and local worktree), the sessions' env files (mode 0600: the agent's
token travels there through ssh's stdin, never on a command line) and the tmux socket.

Placement: a ticket's sessions stay on the host that has its worktree; a new ticket goes to the host with the most
free slots (`slots`: agent sessions at once). When every host is full, :class:`NoCapacity` is raised and the
session step waits in the queue (it tries again on the next reconcile). Connections are shared: one ssh
ControlMaster per host, its socket in a private folder.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from metawsm.errors import ExternalError, MetawsmError
from metawsm.runtime import proc, ssh_logs, ssh_worktree
from metawsm.runtime.base import NoCapacity, RuntimeConfig, Screen, SessionInfo, SessionSpec, SessionState
from metawsm.runtime.local import TmuxRuntime
from metawsm.runtime.ssh_conn import HostSpec, SshHost, control_dir, short_id
from metawsm.runtime.ssh_tmux import RemoteTmux


class HostRuntime(TmuxRuntime):
    """The local backend's session logic (labels, ownership, batching) on one host's remote tmux."""

    def __init__(self, config: RuntimeConfig, host: SshHost, socket: str, path_prefix: str) -> None:
        super().__init__(config)
        self.host = host
        self.tmux: RemoteTmux = RemoteTmux(host, socket, path_prefix=path_prefix)

    def describe(self) -> str:
        return f"ssh {self.host.name} tmux -S {self.tmux.socket}"


def _git(cwd: str, *args: str, env: dict[str, str] | None = None) -> str:
    return proc.run(["git", "-C", cwd, *args], env=env, timeout=120).stdout.strip()


class SshRuntime:
    """Agent sessions of one repository on the policy's ssh hosts."""

    backend = "ssh"

    def __init__(self, config: RuntimeConfig) -> None:
        settings: Any = config.settings
        self.scope = config.scope or "default"
        self.root = config.home
        self.env_names: tuple[str, ...] = tuple(getattr(settings, "env", ()) or ())
        control = control_dir(self._local_path(getattr(settings, "control_dir", "") or ""))
        known = self._local_path(getattr(settings, "known_hosts", "") or "")
        self.hosts: dict[str, HostRuntime] = {}
        for h in getattr(settings, "hosts", ()) or ():
            spec = HostSpec(h.name, h.address, h.user or "", self._local_path(h.key or ""), h.workdir, int(h.slots),
                            int(h.port))
            host = SshHost(spec, control=control, known_hosts=known)
            self.hosts[h.name] = HostRuntime(config, host, f"{self.base(host)}/tmux.sock",
                                             getattr(settings, "path", "") or "")
        self._where: dict[str, str] = {}  # session name → host name
        self._prepared: dict[tuple[str, str, str], str] = {}  # (host, local cwd, run) → remote cwd

    def _local_path(self, path: str) -> str:
        """A policy path on this machine: absolute, or relative to the repository root."""
        if not path or Path(path).is_absolute() or not self.root:
            return path
        return str(Path(self.root) / path)

    # -- layout ------------------------------------------------------------------------------------------
    def base(self, host: SshHost) -> str:
        return f"{host.spec.workdir.rstrip('/')}/{self.scope}"

    def _env_file(self, host: SshHost, name: str) -> str:
        return f"{self.base(host)}/env/{name}.env"

    def describe(self) -> str:
        return "ssh " + ", ".join(f"{n} ({h.host.target})" for n, h in self.hosts.items())

    def problems(self) -> list[str]:
        found = []
        if proc.which("ssh") is None:
            found.append("ssh (openssh-client) is not installed; the ssh backend runs sessions through it")
        if not self.hosts:
            found.append("runtime.ssh.hosts is empty: name at least one host for the ssh backend")
        return found

    # -- where sessions are ------------------------------------------------------------------------------
    def sessions(self) -> dict[str, SessionState]:
        result: dict[str, SessionState] = {}
        for name, rt in self.hosts.items():
            for session, state in rt.sessions().items():
                self._where[session] = name
                result[session] = replace(state, backend="ssh", where=f"ssh {name}")
        return result

    def _host_of(self, name: str) -> HostRuntime | None:
        if name not in self._where:
            self.sessions()
        host = self._where.get(name)
        return self.hosts.get(host) if host else None

    def _need(self, name: str) -> HostRuntime:
        rt = self._host_of(name)
        if rt is None:
            raise ExternalError(f"no session {name!r} on the ssh hosts ({', '.join(self.hosts)})",
                                hint="it ended meanwhile; `metawsm resume` creates it again")
        return rt

    def _snapshot(self) -> dict[str, dict[str, SessionState]]:
        """Every host's sessions of this repository (one query per host)."""
        found = {name: rt.sessions() for name, rt in self.hosts.items()}
        for name, states in found.items():
            for session in states:
                self._where[session] = name
        return found

    def _worktrees(self) -> dict[str, set[str]]:
        """Per host, the tickets that have a worktree there (their bookkeeping files), one command per host."""
        found: dict[str, set[str]] = {}
        for name, rt in self.hosts.items():
            listing = rt.host.run(f"ls {shlex.quote(self.base(rt.host))}/meta 2>/dev/null || true", check=False)
            found[name] = {f[:-len(".json")] for f in listing.stdout.split() if f.endswith(".json")}
        return found

    def _place(self, spec: SessionSpec, snap: dict[str, dict[str, SessionState]],
               worktrees: dict[str, set[str]]) -> HostRuntime:
        """The ticket's host (a session or its worktree there), else the host with the most free slots."""
        ticket = spec.labels.get("ticket", "")
        counts: dict[str, int] = {}
        for name, states in snap.items():
            if ticket and any(s.labels.get("ticket") == ticket for s in states.values()):
                return self.hosts[name]
            counts[name] = sum(1 for s in states.values() if not s.dead)
        for name, tickets in worktrees.items():
            if ticket in tickets:
                return self.hosts[name]
        free = sorted(((rt.host.spec.slots - counts[n], n) for n, rt in self.hosts.items()), reverse=True)
        if not free or free[0][0] <= 0:
            taken = ", ".join(f"{n}: {counts[n]} of {rt.host.spec.slots} slots" for n, rt in self.hosts.items())
            raise NoCapacity(f"every ssh host is full ({taken})",
                             hint="the session waits in the queue and starts when a slot frees up")
        return self.hosts[free[0][1]]

    # -- the remote copy of a ticket's worktree ----------------------------------------------------------
    def _meta_path(self, host: SshHost, ticket: str) -> str:
        return ssh_worktree.meta_path(self.base(host), ticket)

    def _prepare(self, rt: HostRuntime, specs: Sequence[SessionSpec]) -> list[str]:
        """The remote folder standing for each spec's cwd (made on first use: mirror, branch pushed, worktree);
        each is checked once per command (a session step, then its agent, ask again)."""
        keys = [(rt.host.name, spec.cwd, spec.labels.get("run", "")) for spec in specs]
        todo = [(key, spec) for key, spec in zip(keys, specs, strict=True) if key not in self._prepared]
        if todo:
            copies = ssh_worktree.prepare(rt.host, self.base(rt.host), [spec for _, spec in todo],
                                          {"repo": self.scope, "home": self.root})
            for (key, _), copy in zip(todo, copies, strict=True):
                self._prepared[key] = copy.cwd
        return [self._prepared[key] for key in keys]

    def _remote_specs(self, rt: HostRuntime, specs: Sequence[SessionSpec]) -> list[SessionSpec]:
        """``specs`` as the host runs them: their folders there, their variables from 0600 env files written
        through stdin in one ssh call (the token never on a command line), no local transcript path."""
        files: dict[str, str] = {}
        remote = []
        for spec, cwd in zip(specs, self._prepare(rt, specs), strict=True):
            command = spec.command
            if command is not None:
                env = {k: v for k, v in spec.env.items() if k != "METAWSM_HOME"}  # the host has no such folder
                env.update({k: os.environ[k] for k in self.env_names if k in os.environ})
                path = self._env_file(rt.host, spec.name)
                files[path] = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
                command = f". {shlex.quote(path)}\n{command}"
            log = self._remote_log(rt.host, spec.log) if spec.log else None  # fetched back by fetch_outputs
            remote.append(replace(spec, cwd=cwd, env={}, command=command, log=log))
        if files:
            rt.host.write_files(files)
        return remote

    # -- sessions ----------------------------------------------------------------------------------------
    def create(self, spec: SessionSpec) -> SessionInfo:
        return self.create_many([spec])[0]

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        """Place each session from one look at the hosts (a session placed here takes its slot for the next
        ones), then create them with one batched tmux call per host. NoCapacity when every host is full for one
        of them (nothing is created then; a caller starting them one by one gets the others)."""
        snap = self._snapshot()
        worktrees: dict[str, set[str]] | None = None
        placed: dict[str, list[tuple[int, SessionSpec]]] = {}
        for index, spec in enumerate(specs):
            where = self._where.get(spec.name)
            if where not in self.hosts and worktrees is None:  # asked once per batch, not once per session
                worktrees = self._worktrees()
            rt = self.hosts[where] if where in self.hosts else self._place(spec, snap, worktrees or {})
            self._where[spec.name] = rt.host.name
            snap[rt.host.name][spec.name] = SessionState(spec.name, None, False, None, 0.0, labels=dict(spec.labels))
            placed.setdefault(rt.host.name, []).append((index, spec))
        infos: dict[int, SessionInfo] = {}
        for name, group in placed.items():
            rt = self.hosts[name]
            remote = self._remote_specs(rt, [spec for _, spec in group])
            for (index, _), info in zip(group, rt.create_many(remote), strict=True):
                infos[index] = info
        return [infos[i] for i in range(len(specs))]

    def respawn(self, spec: SessionSpec) -> int | None:
        rt = self._need(spec.name)
        return rt.respawn(self._remote_specs(rt, [spec])[0])

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        """:meth:`respawn` with one batched tmux call per host; a session that could not be respawned is left out
        (the caller's own respawn then reports it)."""
        groups: dict[str, list[SessionSpec]] = {}
        for spec in specs:
            rt = self._host_of(spec.name)
            if rt is not None:
                groups.setdefault(rt.host.name, []).append(spec)
        pids: dict[str, int | None] = {}
        for name, group in groups.items():
            rt = self.hosts[name]
            try:
                remote = self._remote_specs(rt, group)
            except MetawsmError:
                continue  # the caller's own respawns report it
            pids.update(rt.respawn_many(remote))
        return pids

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def capture(self, name: str, lines: int = 200) -> str:
        return self._need(name).capture(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        result: dict[str, str] = {}
        for name in names:
            rt = self._host_of(name)
            if rt is not None:
                result.update(rt.capture_many([name], lines))
        return result

    def screen(self, name: str, *, ansi: bool = True) -> Screen:
        return self._need(name).screen(name, ansi=ansi)

    def send(self, name: str, text: str, *, enter: bool = True) -> None:
        self._need(name).send(name, text, enter=enter)

    def paste(self, name: str, text: str, *, enter: bool = True) -> None:
        self._need(name).paste(name, text, enter=enter)

    def kill(self, name: str) -> bool:
        rt = self._host_of(name)
        if rt is None or not rt.kill(name):
            return False
        rt.host.run(f"rm -f {shlex.quote(self._env_file(rt.host, name))}", check=False)
        self._where.pop(name, None)
        return True

    def attach_command(self, name: str) -> list[str]:
        """The ssh command attaching to ``name`` on its host (the first host while the session does not exist yet,
        e.g. queued: `status` shows the command for every agent)."""
        rt = self._host_of(name) or next(iter(self.hosts.values()), None)
        if rt is None:
            raise ExternalError("runtime.ssh.hosts is empty: no host to attach to")
        return rt.host.argv(rt.tmux.remote("attach-session", "-t", f"={name}"), tty=True)

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        rt = self._need(name)
        remote = self._remote_log(rt.host, os.fspath(path))
        rt.host.run(f"mkdir -p {shlex.quote(str(Path(remote).parent))}")
        rt.record_output(name, remote)

    # -- transcripts: written on the host, brought back on request (ssh_logs) --------------------------
    def _remote_log(self, host: SshHost, local: str) -> str:
        return ssh_logs.remote_log(self.base(host), local)

    def fetch_outputs(self, name: str, paths: Sequence[str]) -> list[str]:
        """Append to each local transcript in ``paths`` what its copy on the session's host has beyond it (every
        host is asked once the session ended); returns the paths that grew."""
        rt = self._host_of(name)
        grown: list[str] = []
        for host in [rt.host] if rt is not None else [h.host for h in self.hosts.values()]:
            grown += [p for p in ssh_logs.fetch(host, self.base(host), paths) if p not in grown]
        return grown

    # -- bringing work back, and cleaning up -------------------------------------------------------------
    def collect(self, name: str, cwd: str) -> str:
        """Fetch the session's branch from its host into the local worktree at ``cwd`` (fast-forward only)."""
        rt = self._need(name)
        host = rt.host
        local = _git(cwd, "rev-parse", "--show-toplevel")
        common = str(Path(local, _git(cwd, "rev-parse", "--git-common-dir")).resolve())
        branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
        mirror = f"{self.base(host)}/{short_id(common)}.git"
        env = {**os.environ, "GIT_SSH_COMMAND": host.git_ssh_command()}
        _git(local, "fetch", "-q", host.git_url(mirror), f"refs/heads/{branch}", env=env)
        try:
            _git(local, "merge", "-q", "--ff-only", "FETCH_HEAD")
        except ExternalError as exc:
            raise ExternalError(f"cannot bring {branch} back from ssh host {host.name}: the local worktree "
                                f"{local} has diverged or has uncommitted changes",
                                hint="commit or discard the local changes, then `metawsm restart`") from exc
        return f"fetched {branch} from {host.name} ({_git(local, 'rev-parse', '--short', 'HEAD')})"

    def release(self, run: str) -> list[str]:
        """Remove the worktrees (and env files, and the mirror and tmux server once unused) this repository made
        for ``run`` on every host, once none of the run's sessions is left there. Refuses a worktree with
        uncommitted changes or commits its local worktree lacks."""
        removed: list[str] = []
        for rt in self.hosts.values():
            removed += self._release_host(rt, run)
        return removed

    def _release_host(self, rt: HostRuntime, run: str) -> list[str]:
        host, q = rt.host, shlex.quote
        listing = host.run(f"cat {q(self.base(host))}/meta/*.json 2>/dev/null || true").stdout
        metas = [json.loads(line) for line in listing.splitlines() if line.strip().startswith("{")]
        states = rt.sessions()
        removed = []
        for meta in metas:
            if meta.get("run") != run or any(s.labels.get("ticket") == meta["ticket"] for s in states.values()):
                continue
            self._check_saved(host, meta)
            host.run(f"git -C {q(meta['mirror'])} worktree remove --force {q(meta['worktree'])} && "
                     f"git -C {q(meta['mirror'])} branch -q -D {q(meta['branch'])} && "
                     f"rm -f {q(self._meta_path(host, meta['ticket']))}")
            removed.append(f"{host.name}:{meta['worktree']}")
        if not states and not host.run(f"ls {q(self.base(host))}/meta/*.json >/dev/null 2>&1", check=False).ok:
            rt.tmux.kill_server()
            host.run(f"rm -rf {q(self.base(host))}")
            removed.append(f"{host.name}:{self.base(host)}")
            host.close()  # nothing of this repository is left there: end the shared connection too
        return removed

    def _check_saved(self, host: SshHost, meta: dict[str, str]) -> None:
        """Refuse (ExternalError) when the remote worktree holds work its local worktree does not."""
        q = shlex.quote
        out = host.run(f"git -C {q(meta['worktree'])} status --porcelain && echo @@ && "
                       f"git -C {q(meta['worktree'])} rev-parse HEAD").stdout
        dirty, _, sha = out.partition("@@")
        sha = sha.strip()
        # saved: a branch of the local repository holds that commit (the ticket branch, or the base after close)
        held = proc.run(["git", f"--git-dir={meta.get('common', '')}", "for-each-ref", "--count=1", "--contains",
                         sha, "refs/heads"], check=False, timeout=60)
        saved = held.ok and bool(held.stdout.strip())
        if dirty.strip() or not saved:
            what = "uncommitted changes" if dirty.strip() else f"commit {sha[:12]} that {meta['local']} lacks"
            raise ExternalError(f"ssh host {host.name}: {meta['worktree']} has {what}; not removed",
                                hint="let the agent finish (its work is fetched back on completion), or fetch it by "
                                     "hand, then clean up again")

    def close(self) -> None:
        for rt in self.hosts.values():
            rt.host.close()

