"""The Runtime the engine holds: one repository's sessions across the backends in use.

Each session lives on the backend its spec names (`SessionSpec.backend`, from the plan: the policy's
`runtime.backend`, or a plan agent's `runtime:`). Calls that name only a session (capture, send, kill,
attach) go to the backend that holds it, learned from :meth:`sessions` (one query per backend in use).
Backends open lazily: a repository that only ever ran local agents never talks to docker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from metawsm.runtime.base import Runtime, RuntimeConfig, Screen, SessionInfo, SessionSpec, SessionState
from metawsm.runtime.registry import check_backend, open_runtime


class RoutedRuntime:
    """A :class:`~metawsm.runtime.base.Runtime` dispatching to one Runtime per backend name."""

    backend = "routed"

    def __init__(self, configure: Callable[[str], RuntimeConfig], in_use: Iterable[str] = ()) -> None:
        self._configure = configure
        self._in_use: list[str] = ["local"]
        self._open: dict[str, Runtime] = {}
        self._where: dict[str, str] = {}  # session name → backend name
        self.use(in_use)

    # -- backends -----------------------------------------------------------------------------------------
    def use(self, names: Iterable[str]) -> None:
        """Also list and serve sessions of these backends (validated against the registry)."""
        for name in names:
            name = name or "local"
            if name not in self._in_use:
                self.backend_runtime(name)
                self._in_use.append(name)

    @property
    def in_use(self) -> tuple[str, ...]:
        return tuple(self._in_use)

    def backend_runtime(self, name: str) -> Runtime:
        """The Runtime of backend ``name`` (opened on first use)."""
        name = name or "local"
        runtime = self._open.get(name)
        if runtime is None:
            runtime = self._open[name] = open_runtime(self._configure(check_backend(name)))
        return runtime

    def _for_spec(self, spec: SessionSpec) -> Runtime:
        self.use([spec.backend])
        self._where[spec.name] = spec.backend or "local"
        return self.backend_runtime(spec.backend)

    def backend_of(self, name: str) -> str:
        """The backend holding session ``name`` (asking the backends in use when not known yet; "local" when
        none has it)."""
        if name not in self._where:
            self.sessions()
        return self._where.get(name, "local")

    def _for_name(self, name: str) -> Runtime:
        return self.backend_runtime(self.backend_of(name))

    # -- the Runtime protocol -----------------------------------------------------------------------------
    def describe(self) -> str:
        return ", ".join(self.backend_runtime(name).describe() for name in self._in_use)

    def problems(self) -> list[str]:
        return [p for name in self._in_use for p in self.backend_runtime(name).problems()]

    def create(self, spec: SessionSpec) -> SessionInfo:
        return self._for_spec(spec).create(spec)

    def create_many(self, specs: Sequence[SessionSpec]) -> list[SessionInfo]:
        results: dict[int, SessionInfo] = {}
        for backend, group in _by_backend(specs).items():
            runtime = self._for_spec(specs[group[0]])
            for spec in (specs[i] for i in group):
                self._where[spec.name] = backend
            for index, info in zip(group, runtime.create_many([specs[i] for i in group]), strict=True):
                results[index] = info
        return [results[i] for i in range(len(specs))]

    def respawn(self, spec: SessionSpec) -> int | None:
        return self._for_spec(spec).respawn(spec)

    def respawn_many(self, specs: Sequence[SessionSpec]) -> dict[str, int | None]:
        pids: dict[str, int | None] = {}
        for group in _by_backend(specs).values():
            pids.update(self._for_spec(specs[group[0]]).respawn_many([specs[i] for i in group]))
        return pids

    def exists(self, name: str) -> bool:
        return name in self.sessions()

    def sessions(self) -> dict[str, SessionState]:
        result: dict[str, SessionState] = {}
        for name in self._in_use:
            for session, state in self.backend_runtime(name).sessions().items():
                if session not in result:
                    result[session] = state if state.backend == name else replace(state, backend=name)
                    self._where[session] = name
        return result

    def capture(self, name: str, lines: int = 200) -> str:
        return self._for_name(name).capture(name, lines)

    def capture_many(self, names: Sequence[str], lines: int = 200) -> dict[str, str]:
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(self.backend_of(name), []).append(name)
        result: dict[str, str] = {}
        for backend, group in groups.items():
            result.update(self.backend_runtime(backend).capture_many(group, lines))
        return result

    def screen(self, name: str, *, ansi: bool = True) -> Screen:
        return self._for_name(name).screen(name, ansi=ansi)

    def send(self, name: str, text: str, *, enter: bool = True) -> None:
        self._for_name(name).send(name, text, enter=enter)

    def paste(self, name: str, text: str, *, enter: bool = True) -> None:
        self._for_name(name).paste(name, text, enter=enter)

    def kill(self, name: str) -> bool:
        return self._for_name(name).kill(name)

    def attach_command(self, name: str) -> list[str]:
        return self._for_name(name).attach_command(name)

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self._for_name(name).record_output(name, path)

    def collect(self, name: str, cwd: str) -> str | None:
        """Bring the work of session ``name`` back into the local worktree ``cwd``, for a backend that works on a
        copy of it (ssh: `git fetch` from the host); None for backends that work on the worktree itself."""
        runtime = self._for_name(name)
        collect = getattr(runtime, "collect", None)  # optional: only backends with their own copy have it
        return collect(name, cwd) if collect is not None else None

    def fetch_outputs(self, backend: str, name: str, paths: Sequence[str]) -> list[str]:
        """Bring the local transcripts ``paths`` of session ``name`` up to date, for a backend that writes them
        elsewhere (ssh: on the host); returns those that grew ([] for backends that write them here)."""
        fetch = getattr(self.backend_runtime(backend), "fetch_outputs", None)  # optional, like collect
        return list(fetch(name, paths)) if fetch is not None else []

    def release(self, run: str) -> list[str]:
        return [item for name in self._in_use for item in self.backend_runtime(name).release(run)]


def _by_backend(specs: Sequence[SessionSpec]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        groups.setdefault(spec.backend or "local", []).append(index)
    return groups
