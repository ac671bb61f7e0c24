"""The `kubernetes` Runtime: each agent session is a tmux session in a Pod of its own (or a Job's pod), on the
user's cluster through ``kubectl`` (or on this machine through ``podman kube play``: ``engine: podman``).

The pod is made from the policy (:mod:`metawsm.runtime.kube_manifest`), applied, waited for (bounded by
``start_seconds``; an image that cannot be pulled or a missing Secret fails at once, named), then the session is
started in it through exec. Its variables (the agent's token among them) go to an env file in the pod through
exec's stdin; ``METAWSM_HOME`` is not passed: agents report through the daemon (``METAWSM_SERVER`` and a token of
their own), so a pod never needs the repository's state. A missing, failed or finished pod has no session: the
agent is dead and the operator restarts it (the pod is made again). Ending a session deletes its pod; ``release``
deletes a run's pods and jobs by label selector — exactly this repository's and that run's.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace

from metawsm.errors import ExternalError
from metawsm.runtime.base import ForeignSession, RuntimeConfig, SessionInfo, SessionSpec, SessionState
from metawsm.runtime.fanout import InnerTmuxIO, parallel
from metawsm.runtime.kube_cli import STUCK, PodInfo, open_engine
from metawsm.runtime.kube_manifest import label_value, manifest, pod_name, selector
from metawsm.runtime.kube_tmux import PodTmux, env_file
from metawsm.runtime.settings import KubeSettings
from metawsm.runtime.tmux_panes import PaneInfo


class KubeRuntime(InnerTmuxIO):
    """Agent sessions of one repository, one pod each."""

    backend = "kubernetes"

    def __init__(self, config: RuntimeConfig) -> None:
        self.scope, self.home = config.scope or "default", config.home
        self.settings = KubeSettings.of(config.settings)
        self.engine = open_engine(self.settings)
        self._located: dict[str, str] = {}  # session → pod name, from the last sessions()

    def describe(self) -> str:
        return f"{self.engine.describe()} (image {self.settings.image})"

    def problems(self) -> list[str]:
        if shutil.which(self.engine.cli) is None:
            return [f"{self.engine.cli!r} is not installed (or not on PATH); runtime.backend kubernetes "
                    f"runs agents through it"]
        try:
            self.engine.pods(selector(repo=self.scope))
        except ExternalError as exc:
            return [f"cannot list pods with {self.engine.describe()}: {exc.message}"]
        return []

    # -- pods ---------------------------------------------------------------------------------------------
    def _own(self, spec: SessionSpec) -> SessionSpec:
        labels = {**spec.labels, "repo": self.scope, **({"home": self.home} if self.home else {})}
        return replace(spec, labels=labels)

    def key(self, spec: SessionSpec) -> str:
        return pod_name(self.scope, spec.name)

    def _pods(self, **labels: str) -> dict[str, PodInfo]:
        """This repository's pods (carrying ``labels``) by their `metawsm/pod` key; a pod being deleted only
        when no other pod has that key."""
        found: dict[str, PodInfo] = {}
        for pod in self.engine.pods(selector(repo=self.scope, **labels)):
            if pod.key not in found or found[pod.key].deleting:
                found[pod.key] = pod
        return found

    def _ensure_pods(self, specs: Sequence[SessionSpec]) -> tuple[dict[str, str], set[str]]:
        """Every pod ``specs`` need, running: adopted or made (a failed or finished one is deleted and made
        again). Returns (pod key → pod name, keys of the pods made now)."""
        current = self._pods()
        wanted = {self.key(spec): spec for spec in specs}
        stale = [k for k in wanted if k in current and current[k].phase in ("Succeeded", "Failed")]
        for k in stale:
            self.engine.delete(selector(repo=self.scope, pod=k))
        if stale:  # kubectl deletes in the background: a name is free again once its pod is gone
            self._wait_gone(stale)
        made = [k for k in wanted if k not in current or k in stale]
        if made:
            self.engine.apply([manifest(self.settings, wanted[k], self.scope, self.home) for k in made])
        return self._wait_running(list(wanted)), set(made)

    def _wait_gone(self, keys: list[str]) -> None:
        deadline = time.monotonic() + self.settings.start_seconds
        pause = 0.2
        while any(k in self._pods() for k in keys):
            if time.monotonic() > deadline:
                raise ExternalError(f"pods still there {self.settings.start_seconds}s after deleting them: "
                                    f"{', '.join(keys)}", hint="`kubectl describe pod` says what holds them")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _wait_running(self, keys: list[str]) -> dict[str, str]:
        deadline = time.monotonic() + self.settings.start_seconds
        pause = 0.2
        while True:
            current = self._pods()
            waiting = []
            for k in keys:
                pod = current.get(k)
                if pod is not None and pod.running:
                    continue
                if pod is not None and (pod.phase in ("Succeeded", "Failed") or pod.reason in STUCK):
                    raise ExternalError(f"pod {pod.name} cannot run: {pod.reason or pod.phase}",
                                        hint="`kubectl describe pod` says why; check runtime.kubernetes (image, "
                                             "image_pull_policy, env_secrets, claim) in the policy")
                waiting.append(k)
            if not waiting:
                return {k: current[k].name for k in keys}
            if time.monotonic() > deadline:
                raise ExternalError(f"pods not running after {self.settings.start_seconds}s: {', '.join(waiting)}",
                                    hint="the cluster may lack room or the image; runtime.kubernetes.start_seconds "
                                         "waits longer")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _tmux(self, pod: str, *, fresh: bool = False) -> PodTmux:
        return PodTmux(self.engine, pod, fresh=fresh)

    def _pod_of(self, name: str) -> str | None:
        if name not in self._located:
            self.sessions()
        return self._located.get(name)

    def _session_tmux(self, name: str) -> PodTmux:
        pod = self._pod_of(name)
        if pod is None:
            raise ForeignSession(f"no session {name!r} in this repository's pods",
                                 hint="it ended meanwhile; `metawsm resume` creates it again")
        return self._tmux(pod)

    def _mine(self, pane: PaneInfo | None) -> bool:
        return pane is not None and pane.labels.get("repo") == self.scope

    @staticmethod
    def _with_env_file(spec: SessionSpec) -> tuple[SessionSpec, dict[str, str] | None]:
        """``spec`` as the pod runs it: its variables in an env file (None: no command, nothing to write)."""
        if spec.command is None:
            return replace(spec, env={}), None
        env = {k: v for k, v in spec.env.items() if k != "METAWSM_HOME"}  # agents report through the daemon
        return replace(spec, env={}, command=f". {env_file(spec.name)}\n{spec.command}"), env

    # -- sessions -----------------------------------------------------------------------------------------
    def create(self, spec: SessionSpec) -> SessionInfo:
        return self.create_many([spec])[0]

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        owned = [self._own(spec) for spec in specs]
        pods, made = self._ensure_pods(owned)

        def start(index: int) -> SessionInfo:
            key = self.key(owned[index])
            tmux = self._tmux(pods[key], fresh=key in made)
            spec, env = self._with_env_file(owned[index])
            if env is not None:
                tmux.write_env({spec.name: env})
            return tmux.start_many([spec])[0]

        infos = parallel(start, range(len(owned)))
        for spec in owned:
            self._located[spec.name] = pods[self.key(spec)]
        return infos

    def respawn(self, spec: SessionSpec) -> int | None:
        spec = self._own(spec)
        tmux = self._session_tmux(spec.name)
        run, env = self._with_env_file(spec)
        if env is not None:
            tmux.write_env({spec.name: env})
        try:
            pid = tmux.respawn(run.name, run.cwd, {}, run.command, run.log, labels=run.labels)
        except ExternalError as exc:
            raise ForeignSession(f"no session {spec.name!r} in pod {tmux.pod} to restart: {exc.message}",
                                 hint="it ended meanwhile; `metawsm resume` creates it again") from exc
        if spec.labels.get("attempt"):
            self.engine.label(tmux.pod, {"metawsm/attempt": label_value(spec.labels["attempt"])})
        return pid

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        def one(spec: SessionSpec) -> tuple[str, int | None] | None:
            try:
                return spec.name, self.respawn(spec)
            except ExternalError:
                return None  # the caller's own respawn reports it

        return dict(found for found in parallel(one, specs) if found is not None)

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def _panes(self, pod: PodInfo) -> list[tuple[str, PaneInfo]]:
        try:
            panes = self._tmux(pod.name).snapshot()
        except ExternalError:
            if any(p.name == pod.name and p.running for p in self._pods().values()):
                raise
            return []  # it ended meanwhile: its session is gone
        return [(pod.name, pane) for pane in panes.values() if self._mine(pane)]

    def sessions(self) -> dict[str, SessionState]:
        running = [p for p in self._pods().values() if p.running]
        result: dict[str, SessionState] = {}
        located: dict[str, str] = {}
        for found in parallel(self._panes, running):
            for pod, pane in found:
                located[pane.session] = pod
                result[pane.session] = SessionState(
                    pane.session, pane.pane_pid, pane.pane_dead, pane.exit_status, pane.activity,
                    pane.current_command, pane.labels, "kubernetes", f"pod/{pod}")
        self._located = located
        return result

    def capture(self, name: str, lines: int = 200) -> str:
        return self._session_tmux(name).capture_pane(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        located = [(name, self._pod_of(name)) for name in names]

        def one(item: tuple[str, str]) -> dict[str, str]:
            return self._tmux(item[1]).capture_many([item[0]], lines)

        result: dict[str, str] = {}
        for found in parallel(one, [(n, p) for n, p in located if p is not None]):
            result.update(found)
        return result

    def kill(self, name: str) -> bool:
        """End session ``name`` and delete its pod (or job)."""
        pod = self._pod_of(name)
        if pod is None:
            return False
        ended = self._tmux(pod).kill_session(name)
        self._located.pop(name, None)
        self.engine.delete(selector(repo=self.scope, pod=pod_name(self.scope, name)))
        return ended

    def attach_command(self, name: str) -> list[str]:
        pod = self._located.get(name) or self._pod_of(name) or pod_name(self.scope, name)
        term = os.environ.get("TERM") or "xterm-256color"  # kubectl/podman exec -t pass no TERM
        return self.engine.exec_argv(pod, ["env", f"TERM={term}", "tmux", "-u", "-L", "metawsm", "attach-session",
                                           "-t", f"={name}"], tty=True)

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self._session_tmux(name).pipe_output(name, path)

    def release(self, run: str) -> list[str]:
        """Delete the pods and jobs made for ``run`` (by label selector: this repository's, that run's) that hold
        no session of another run."""
        pods = self._pods(run=run)
        doomed = []
        for key, pod in pods.items():
            panes = self._panes(pod) if pod.running else []
            if not any(p.labels.get("run") not in (None, run) for _, p in panes):
                doomed.append(key)
        if len(doomed) == len(pods):
            self.engine.delete(selector(repo=self.scope, run=run))  # jobs whose pods are gone included
        else:
            for key in doomed:
                self.engine.delete(selector(repo=self.scope, pod=key))
        return [f"pod {pods[k].name}" for k in doomed]
