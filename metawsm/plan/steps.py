"""Typed step records: one frozen dataclass per step kind, encoded to and decoded from a step's fields in ONE
place (this module).

The planner builds these records; `encode` turns one into its JSON-able fields (the same keys, in the same
order, as before records existed: definition hashes and the `fields_json` stored in state.db do not change),
which are hashed and recorded. Code that runs or inspects a step reads the record by attribute
(`spec_of(row).session`, `typed(row, WorkspaceStep).branch`) and never the fields by key. A field missing from
an older recorded run decodes to its default; a malformed one raises a located StepDecodeError (a StateError
naming the step and the field), which the engine records as that step's failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from metawsm.errors import StateError


class StepDecodeError(StateError):
    """A recorded step whose fields do not fit its kind's record."""

    code = "invalid_step"


class _Row(Protocol):
    @property
    def step_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def fields_json(self) -> str | None: ...


def _text(fields: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = fields.get(key, default)
    if value is None:
        raise ValueError(f"field {key!r} is missing")
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, not {type(value).__name__}")
    return value


def _texts(fields: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = fields.get(key) or ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"field {key!r} must be a list of strings")
    return tuple(value)


def _env(fields: Mapping[str, Any], key: str = "env") -> Mapping[str, str]:
    value = fields.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"field {key!r} must be a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _placement(backend: str, mounts: tuple[str, ...]) -> dict[str, Any]:
    """A session's backend and mounts, recorded only off local (local steps keep their fields and hashes)."""
    return {"backend": backend, "mounts": list(mounts)} if backend and backend != "local" else {}


@dataclass(frozen=True)
class RepoWorktree:
    """One repository's worktree of a ticket workspace."""

    path: str
    repo_root: str
    base_branch: str

    def to_fields(self) -> dict[str, Any]:
        return {"path": self.path, "repo_root": self.repo_root, "base_branch": self.base_branch}


@dataclass(frozen=True)
class WorkspaceStep:
    """The recorded fields of a `workspace:T` step."""

    kind: ClassVar[str] = "workspace"
    path: str
    branch: str
    base_branch: str
    repos: Mapping[str, RepoWorktree]
    copy: tuple[str, ...] = ()
    symlink: tuple[str, ...] = ()
    setup_commands: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> WorkspaceStep:
        repos = {str(name): RepoWorktree(_text(r, "path"), _text(r, "repo_root"), _text(r, "base_branch"))
                 for name, r in (f.get("repos") or {}).items()}
        setup = f.get("setup") or {}
        return cls(_text(f, "path"), _text(f, "branch"), _text(f, "base_branch", ""), repos,
                   _texts(setup, "copy"), _texts(setup, "symlink"), _texts(setup, "commands"))

    def to_fields(self) -> dict[str, Any]:
        return {"path": self.path, "branch": self.branch, "base_branch": self.base_branch,
                "repos": {name: r.to_fields() for name, r in self.repos.items()},
                "setup": {"copy": list(self.copy), "symlink": list(self.symlink),
                          "commands": list(self.setup_commands)}}

    @property
    def has_setup(self) -> bool:
        return bool(self.copy or self.symlink or self.setup_commands)

    def repos_in_order(self) -> list[tuple[str, RepoWorktree]]:
        """(name, worktree) of every repository, this repository ("self") first, then by name."""
        return sorted(self.repos.items(), key=lambda kv: (kv[0] != "self", kv[0]))

    @property
    def primary(self) -> RepoWorktree:
        """The worktree the ticket's checks and gate judge: this repository's, else the first by name."""
        return self.repos_in_order()[0][1]


@dataclass(frozen=True)
class SessionStep:
    """The recorded fields of a `session:T:A` step."""

    kind: ClassVar[str] = "session"
    name: str
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    backend: str = ""  # the runtime backend; "" for local (a local step records neither field)
    mounts: tuple[str, ...] = ()  # paths a backend with its own filesystem shows at the same place

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> SessionStep:
        return cls(_text(f, "name"), _text(f, "cwd"), _env(f), _text(f, "backend", ""), _texts(f, "mounts"))

    def to_fields(self) -> dict[str, Any]:
        return {"name": self.name, "cwd": self.cwd, "env": dict(self.env), **_placement(self.backend, self.mounts)}


@dataclass(frozen=True)
class OwnWorktree:
    """An agent's own worktree (plan `worktree: own`) in the ticket's primary repository."""

    path: str
    branch: str
    ticket_path: str  # the ticket's worktree, where the agent's branch is merged back
    ticket_branch: str
    repo_root: str

    @classmethod
    def from_fields(cls, f: Any) -> OwnWorktree:
        if not isinstance(f, Mapping):
            raise ValueError("field 'worktree' must be a mapping")
        return cls(_text(f, "path"), _text(f, "branch"), _text(f, "ticket_path"), _text(f, "ticket_branch"),
                   _text(f, "repo_root"))

    def to_fields(self) -> dict[str, Any]:
        return {"path": self.path, "branch": self.branch, "ticket_path": self.ticket_path,
                "ticket_branch": self.ticket_branch, "repo_root": self.repo_root}


@dataclass(frozen=True)
class AgentStep:
    """The recorded fields of an `agent:T:A` step."""

    kind: ClassVar[str] = "agent"
    session: str
    cwd: str
    command: str
    profile: str = ""
    prompt: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    cli: str | None = None
    mode: str | None = None
    permissions: str = "workspace"
    writable_dirs: tuple[str, ...] = ()
    timeout_seconds: int = 0
    mcp_config: str | None = None  # where an AI CLI's MCP config (pointing at `metawsm mcp`) is written
    role: str = "worker"  # or "reviewer" (plan `role`, policy close.reviewers): the gate waits for its verdict
    backend: str = ""  # as SessionStep.backend
    mounts: tuple[str, ...] = ()  # as SessionStep.mounts
    own: OwnWorktree | None = None  # plan `worktree: own`: where the agent works, and where it merges back

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> AgentStep:
        cli = f.get("cli")
        mode = f.get("mode")
        timeout = f.get("timeout_seconds") or 0
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
            raise ValueError("field 'timeout_seconds' must be a whole number of seconds >= 0")
        return cls(_text(f, "session"), _text(f, "cwd"), _text(f, "command"), _text(f, "profile", ""),
                   _text(f, "prompt", ""), _env(f), _texts(f, "requires"),
                   str(cli) if cli else None, str(mode) if mode else None,
                   str(f.get("permissions") or "workspace"), _texts(f, "writable_dirs"), timeout,
                   str(f["mcp_config"]) if f.get("mcp_config") else None,
                   "reviewer" if f.get("role") == "reviewer" else "worker", _text(f, "backend", ""),
                   _texts(f, "mounts"), OwnWorktree.from_fields(f["worktree"]) if f.get("worktree") else None)

    def to_fields(self) -> dict[str, Any]:
        fields = {"profile": self.profile, "prompt": self.prompt, "command": self.command, "env": dict(self.env),
                  "requires": list(self.requires), "cli": self.cli, "mode": self.mode,
                  "permissions": self.permissions, "writable_dirs": list(self.writable_dirs),
                  "mcp_config": self.mcp_config, "session": self.session, "cwd": self.cwd,
                  "timeout_seconds": self.timeout_seconds, **_placement(self.backend, self.mounts)}
        if self.role == "reviewer":  # only a reviewer carries its role: the others' definition hashes stay
            fields["role"] = self.role
        if self.own is not None:  # likewise only an agent with its own worktree
            fields["worktree"] = self.own.to_fields()
        return fields


@dataclass(frozen=True)
class CheckStep:
    """The recorded fields of a `check:T` step."""

    kind: ClassVar[str] = "check"
    commands: tuple[str, ...]
    cwd: str

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> CheckStep:
        return cls(_texts(f, "commands"), _text(f, "cwd"))

    def to_fields(self) -> dict[str, Any]:
        return {"commands": list(self.commands), "cwd": self.cwd}


@dataclass(frozen=True)
class GateStep:
    """The recorded fields of a `gate:T` step."""

    kind: ClassVar[str] = "gate"
    checks: tuple[str, ...] = ()
    forbidden_file_patterns: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> GateStep:
        return cls(_texts(f, "checks"), _texts(f, "forbidden_file_patterns"))

    def to_fields(self) -> dict[str, Any]:
        return {"checks": list(self.checks), "forbidden_file_patterns": list(self.forbidden_file_patterns)}


@dataclass(frozen=True)
class CloseStep:
    """The recorded fields of a `close:T` step."""

    kind: ClassVar[str] = "close"
    merge: str = "merge"
    delete_branch: bool = True

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> CloseStep:
        return cls(_text(f, "merge", "merge"), bool(f.get("delete_branch", True)))

    def to_fields(self) -> dict[str, Any]:
        return {"merge": self.merge, "delete_branch": self.delete_branch}


@dataclass(frozen=True)
class ShellStep:
    """The recorded fields of a plan's own shell step."""

    kind: ClassVar[str] = "shell"
    run: str
    cwd: str
    tmux: bool = False  # in a Runtime session a person can attach to, not a detached process
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, f: Mapping[str, Any]) -> ShellStep:
        return cls(_text(f, "run"), _text(f, "cwd"), bool(f.get("tmux")), _env(f))

    def to_fields(self) -> dict[str, Any]:
        return {"run": self.run, "tmux": self.tmux, "cwd": self.cwd, "env": dict(self.env)}


StepSpec = WorkspaceStep | SessionStep | AgentStep | CheckStep | GateStep | CloseStep | ShellStep
_BY_KIND: dict[str, Any] = {c.kind: c for c in (WorkspaceStep, SessionStep, AgentStep, CheckStep, GateStep,
                                                CloseStep, ShellStep)}


S = TypeVar("S", bound=StepSpec)  # type: ignore[misc]


def encode(spec: StepSpec) -> dict[str, Any]:
    """The JSON-able fields of ``spec`` (what is hashed and recorded): the inverse of `decode`."""
    return spec.to_fields()


def stored_json(fields: Mapping[str, Any]) -> str:
    """The text state.db records as a step's `fields_json` (sorted keys; its format since the first schema)."""
    return json.dumps(dict(fields), sort_keys=True, ensure_ascii=False)


def decode(kind: str, fields: Mapping[str, Any], *, step_id: str = "") -> StepSpec:
    """The typed record of a step of ``kind`` from its rendered fields."""
    cls = _BY_KIND.get(kind)
    if cls is None:
        raise StepDecodeError(f"step {step_id or '?'}: unknown step kind {kind!r}")
    try:
        return cls.from_fields(fields)  # type: ignore[no-any-return]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StepDecodeError(f"step {step_id or '?'} ({kind}): {exc}") from exc


def spec_of(row: _Row) -> StepSpec:
    """The typed record of a recorded step (a state.db row)."""
    try:
        fields = json.loads(row.fields_json or "{}")
    except ValueError as exc:
        raise StepDecodeError(f"step {row.step_id}: its recorded fields are not JSON ({exc})") from exc
    return decode(row.kind, fields, step_id=row.step_id)


def typed(row: _Row, cls: type[S]) -> S:
    """The record of a recorded step, which must be a ``cls`` (StepDecodeError, a StateError, otherwise)."""
    return as_kind(spec_of(row), cls, row.step_id)


def as_kind(spec: StepSpec, cls: type[S], step_id: str) -> S:
    """``spec``, which must be a ``cls`` (StepDecodeError naming the step otherwise)."""
    if not isinstance(spec, cls):
        raise StepDecodeError(f"step {step_id}: a {spec.kind} step, not a {cls.kind} step")
    return spec
