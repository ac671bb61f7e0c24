"""The StepKind protocol: `start` begins a step, `poll` reports on a running one, `stop` ends it.

Every kind is idempotent: a start after a crash finds its worktree, session or process and adopts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from metawsm.plan.steps import S, StepSpec, as_kind, spec_of

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run, Step


@dataclass(frozen=True)
class Outcome:
    """`running` (poll again later), `done`, or `failed` with an error a person can act on."""

    status: str
    error: str | None = None
    output_log: str | None = None
    note: str | None = None
    waiting: bool = False  # an agent waits for an answer to its question
    queued: bool = False  # it waits for capacity (a backend slot): it holds no execution.max_parallel slot

    @classmethod
    def running(cls, output_log: str | None = None, note: str | None = None, *, waiting: bool = False,
                queued: bool = False) -> Outcome:
        return cls("running", output_log=output_log, note=note, waiting=waiting, queued=queued)

    @classmethod
    def done(cls, note: str | None = None, output_log: str | None = None) -> Outcome:
        return cls("done", note=note, output_log=output_log)

    @classmethod
    def failed(cls, error: str, output_log: str | None = None) -> Outcome:
        return cls("failed", error=error, output_log=output_log)


@dataclass(frozen=True)
class StepRef:
    """A recorded step plus the run it belongs to; kinds read its typed record (`typed(AgentStep).session`,
    decoded once by `metawsm.plan.steps`)."""

    run: Run
    step: Step

    @cached_property
    def spec(self) -> StepSpec:
        return spec_of(self.step)

    def typed(self, cls: type[S]) -> S:
        """The step's record, which must be a ``cls`` (StepDecodeError, a StateError, otherwise)."""
        return as_kind(self.spec, cls, self.step.step_id)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def ticket(self) -> str:
        return self.step.ticket or ""

    @property
    def agent(self) -> str:
        return self.step.agent or ""


class StepKind(Protocol):
    def start(self, eng: Engine, ref: StepRef) -> Outcome: ...

    def poll(self, eng: Engine, ref: StepRef) -> Outcome: ...

    def stop(self, eng: Engine, ref: StepRef) -> None: ...


class Immediate:
    """Base for kinds whose start finishes the work (workspace, session, gate)."""

    def poll(self, eng: Engine, ref: StepRef) -> Outcome:
        return self.start(eng, ref)  # type: ignore[attr-defined,no-any-return]

    def stop(self, eng: Engine, ref: StepRef) -> None:
        return None


def session_env(ref: StepRef, base: Mapping[str, str] | None = None, attempt: int | None = None) -> dict[str, str]:
    """``base`` (a step's rendered env) plus the METAWSM_* environment every agent, check and shell command of a
    run gets."""
    env = dict(base or {})
    env["METAWSM_RUN"] = ref.run_id
    if ref.ticket:
        env["METAWSM_TICKET"] = ref.ticket
    if attempt is not None:
        env["METAWSM_ATTEMPT"] = str(attempt)
    return env
