"""Typed, frozen records built from validated configuration. Lists become tuples."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


# --------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class RepoSpec:
    path: str
    base_branch: str | None = None


@dataclass(frozen=True)
class SetupPolicy:
    copy: tuple[str, ...] = ()
    symlink: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspacePolicy:
    root: str
    base_branch: str
    branch_prefix: str
    setup: SetupPolicy


@dataclass(frozen=True)
class TmuxPolicy:
    socket_name: str
    session_pattern: str


@dataclass(frozen=True)
class BackoffPolicy:
    initial_seconds: float
    multiplier: float
    max_seconds: float


@dataclass(frozen=True)
class ExecutionPolicy:
    max_parallel: int
    step_retries: int
    backoff: BackoffPolicy


@dataclass(frozen=True)
class HealthPolicy:
    idle_seconds: int
    activity_stalled_seconds: int
    progress_stalled_seconds: int


@dataclass(frozen=True)
class EscalationPolicy:
    priority: str
    assignee: str


@dataclass(frozen=True)
class LLMPolicy:
    mode: str
    command: str
    model: str
    timeout_seconds: int
    max_tokens: int
    min_confidence: float


@dataclass(frozen=True)
class OperatorPolicy:
    interval_seconds: int
    unhealthy_confirmations: int
    restart_budget: int
    restart_cooldown_seconds: int
    stale_run_age_seconds: int
    escalation: EscalationPolicy
    llm: LLMPolicy


@dataclass(frozen=True)
class SLAPolicy:
    escalation_minutes: int


@dataclass(frozen=True)
class DocsSyncPolicy:
    enabled: bool


@dataclass(frozen=True)
class ForumPolicy:
    fsync: str
    max_body_bytes: int
    sla: SLAPolicy
    docs_sync: DocsSyncPolicy


@dataclass(frozen=True)
class CloseCheck:
    """A required gate check: a built-in (run is None) or a command."""

    name: str
    run: str | None = None


@dataclass(frozen=True)
class ClosePolicy:
    required_checks: tuple[CloseCheck, ...]
    forbidden_file_patterns: tuple[str, ...]
    merge: str
    require_hooks: bool
    delete_branch: bool


@dataclass(frozen=True)
class AgentProfile:
    command: str
    description: str = ""
    base_prompt: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerPolicy:
    addr: str
    token_file: str | None
    reconcile_interval: float
    heartbeat_seconds: float


@dataclass(frozen=True)
class Policy:
    version: int
    repos: dict[str, RepoSpec]
    workspace: WorkspacePolicy
    tmux: TmuxPolicy
    execution: ExecutionPolicy
    health: HealthPolicy
    operator: OperatorPolicy
    forum: ForumPolicy
    close: ClosePolicy
    agent_profiles: dict[str, AgentProfile]
    server: ServerPolicy
    source: str = ""

    def check_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.close.required_checks)


# --------------------------------------------------------------------------- ticket
@dataclass(frozen=True)
class Ticket:
    id: str
    title: str
    goal: str = ""
    done_criteria: tuple[str, ...] = ()
    repos: tuple[str, ...] = ("self",)
    labels: tuple[str, ...] = ()
    priority: str = "normal"
    vars: dict[str, Any] = field(default_factory=dict)
    source: str = ""


# --------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class AgentSpec:
    name: str
    profile: str
    prompt: str | None = None
    run: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 0


@dataclass(frozen=True)
class StepSpec:
    id: str
    run: str
    for_each: str = "tickets"
    needs: tuple[str, ...] = ()
    when: str | None = None
    tmux: bool = False
    cwd: str = "workspace"
    retries: int | None = None
    timeout_seconds: int = 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    name: str
    tickets: tuple[str, ...]
    agents: tuple[AgentSpec, ...]
    description: str = ""
    checks: tuple[str, ...] = ()
    steps: tuple[StepSpec, ...] = ()
    auto_close: bool = False
    vars: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    # key path (e.g. "agents[0].prompt") → (line, col) in `source`, for located template errors
    marks: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    def mark(self, keypath: str) -> tuple[int, int]:
        return self.marks.get(keypath, (0, 0))


# --------------------------------------------------------------------------- building
@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value)
    if origin is tuple:
        (item_type, _) = typing.get_args(tp)
        return tuple(_convert(item_type, v) for v in value)
    if origin is dict:
        _, value_type = typing.get_args(tp)
        return {k: _convert(value_type, v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if tp is CloseCheck and isinstance(value, str):
            return CloseCheck(name=value)
        return build(tp, value)
    return value


def build(cls: type[T], data: dict[str, Any], **extra: Any) -> T:
    """Build a frozen dataclass from validated (defaults-applied) data; unknown keys are ignored."""
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    kwargs.update(extra)
    return cls(**kwargs)
