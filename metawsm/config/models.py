"""Typed, frozen records built from validated configuration. Lists become tuples.

Every record has a docstring: a dataclass without one gets a generated docstring from `inspect.signature`,
which costs as much as the rest of the class's creation, and every command imports this module."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from metawsm.config.runtime_models import (  # noqa: F401 - re-exported: the policy's records are all here
    DockerRuntimePolicy,
    KubernetesRuntimePolicy,
    LocalRuntimePolicy,
    RuntimePolicy,
    SshHostPolicy,
    SshRuntimePolicy,
    SwarmNodePolicy,
    SwarmPlacementPolicy,
    SwarmRuntimePolicy,
)

T = TypeVar("T")


# --------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class RepoSpec:
    """One repository a ticket can work in (`repos.<name>`): its path and base branch."""

    path: str
    base_branch: str | None = None


@dataclass(frozen=True)
class SetupPolicy:
    """`workspace.setup`: files copied or linked into a new worktree, and commands run there."""

    copy: tuple[str, ...] = ()
    symlink: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspacePolicy:
    """`workspace`: where ticket worktrees are made, from which branch, named how."""

    root: str
    base_branch: str
    branch_prefix: str
    setup: SetupPolicy


@dataclass(frozen=True)
class TmuxPolicy:
    """`tmux`: the local backend's socket and session names (older spelling of `runtime`)."""

    socket_name: str
    session_pattern: str


@dataclass(frozen=True)
class BackoffPolicy:
    """`execution.backoff`: the wait between retries of a failed step."""

    initial_seconds: float
    multiplier: float
    max_seconds: float


@dataclass(frozen=True)
class ExecutionPolicy:
    """`execution`: how many steps run at once and how failed steps are retried."""

    max_parallel: int
    step_retries: int
    backoff: BackoffPolicy
    retry_checks: bool = False


@dataclass(frozen=True)
class HealthPolicy:
    """`health`: when an agent counts as idle, stalled in activity, or stalled in progress."""

    idle_seconds: int
    activity_stalled_seconds: int
    progress_stalled_seconds: int


@dataclass(frozen=True)
class EscalationPolicy:
    """`operator.escalation`: the priority and assignee of an escalated thread."""

    priority: str
    assignee: str


@dataclass(frozen=True)
class LLMPolicy:
    """`operator.llm`: the optional model the operator asks (off, assist, auto)."""

    mode: str
    command: str
    model: str
    timeout_seconds: int
    max_tokens: int
    min_confidence: float


@dataclass(frozen=True)
class OperatorPolicy:
    """`operator`: the supervision loop's pace, restart budget and escalation."""

    interval_seconds: int
    unhealthy_confirmations: int
    restart_budget: int
    restart_cooldown_seconds: int
    stale_run_age_seconds: int
    escalation: EscalationPolicy
    llm: LLMPolicy


@dataclass(frozen=True)
class SLAPolicy:
    """`forum.sla`: how old an unanswered thread may get before it escalates."""

    escalation_minutes: int


@dataclass(frozen=True)
class DocsSyncPolicy:
    """`forum.docs_sync`: whether docs-sync requests are posted."""

    enabled: bool


@dataclass(frozen=True)
class ForumPolicy:
    """`forum`: durability of the log, body size limit, SLA and docs sync."""

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
class ManualValidation:
    """`close.manual_validation`: whether, and from whom, a hand-typed validation is trusted."""

    allowed: bool = False
    by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClosePolicy:
    """`close`: the gate's required checks, forbidden files and how a ticket is closed."""

    required_checks: tuple[CloseCheck, ...]
    forbidden_file_patterns: tuple[str, ...]
    merge: str
    require_hooks: bool
    delete_branch: bool
    manual_validation: ManualValidation = ManualValidation()
    reviewers: tuple[str, ...] = ()  # plan agents that review, as if they had `role: reviewer`
    mode: str = "merge"  # what `close` does: merge | push | pr
    remote: str = "origin"  # where push, pr and close.mode push|pr send ticket branches


@dataclass(frozen=True)
class ReviewPolicy:
    """`review`: whether a reviewer's requested changes start another round, and how many."""

    auto_iterate: bool = False
    max_rounds: int = 3


@dataclass(frozen=True)
class AgentProfile:
    """`agent_profiles.<name>`: the command that runs an agent and how it is set up."""

    command: str
    description: str = ""
    base_prompt: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    cli: str | None = None  # "claude" | "codex": metawsm writes that CLI's config and knows its failures
    mode: str = "interactive"
    permissions: str = "workspace"


@dataclass(frozen=True)
class ServerPolicy:
    """`server`: the daemon's address, token and pace."""

    addr: str
    token_file: str | None
    reconcile_interval: float
    heartbeat_seconds: float
    allowed_hosts: tuple[str, ...] = ()
    agent_url: str | None = None  # agents report through the daemon at this URL (METAWSM_SERVER)


@dataclass(frozen=True)
class Policy:
    """The whole policy (`.metawsm/policy.yaml` with every default filled in)."""

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
    review: ReviewPolicy = ReviewPolicy()
    runtime: RuntimePolicy = field(default_factory=RuntimePolicy)
    source: str = ""

    def check_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.close.required_checks)


# --------------------------------------------------------------------------- ticket
@dataclass(frozen=True)
class Ticket:
    """One ticket (`tickets/<ID>.yaml`)."""

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
    """One agent of a plan (`agents[]`)."""

    name: str
    profile: str
    prompt: str | None = None
    run: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 0
    mode: str | None = None
    permissions: str | None = None
    needs: tuple[str, ...] = ()  # agents of the same ticket that complete before this one starts
    role: str = "worker"  # or "reviewer": gives a verdict (`metawsm signal review`) the gate waits for
    worktree: str = "shared"  # or "own": its own branch and worktree, merged back into the ticket's on completion
    runtime: str | None = None  # a runtime backend name; None: the policy's runtime.backend


@dataclass(frozen=True)
class StepSpec:
    """One extra step of a plan (`steps[]`)."""

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
    """One plan (`plans/<name>.yaml`)."""

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
Converter = typing.Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@cache
def _converter(tp: Any) -> Converter:
    """A function turning validated JSON-like data into `tp` (compiled once per type)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = _converter(next(a for a in typing.get_args(tp) if a is not type(None)))
        if inner is _identity:
            return _identity
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(typing.get_args(tp)[0])
        return tuple if item is _identity else (lambda v: tuple(item(x) for x in v))  # type: ignore[return-value]
    if origin is dict:
        value_conv = _converter(typing.get_args(tp)[1])
        return _identity if value_conv is _identity else (lambda v: {k: value_conv(x) for k, x in v.items()})
    if tp is CloseCheck:
        return lambda v: CloseCheck(name=v) if isinstance(v, str) else build(CloseCheck, v)
    if dataclasses.is_dataclass(tp):
        record = typing.cast(type, tp)
        return lambda v: build(record, v)
    return _identity


@cache
def _fields(cls: type) -> tuple[tuple[str, Converter], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def build(cls: type[T], data: dict[str, Any], **extra: Any) -> T:
    """Build a frozen dataclass from validated (defaults-applied) data; unknown keys are ignored."""
    kwargs = {name: conv(data[name]) for name, conv in _fields(typing.cast(type, cls)) if name in data}
    kwargs.update(extra)
    return cls(**kwargs)
