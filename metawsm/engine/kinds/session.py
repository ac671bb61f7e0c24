"""`session:T:A`: the agent's session in the Runtime (cwd = workspace, METAWSM_* environment, labels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef, session_env
from metawsm.errors import MetawsmError
from metawsm.plan.steps import SessionStep
from metawsm.runtime.base import NoCapacity, SessionSpec

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


# What a new session's window runs until the agent step respawns it with the agent's command: a process
# that costs nothing, not the user's login shell (starting 50 shells only to kill them slows everything).
PLACEHOLDER = "exec sleep 86400"


def labels_for(ref: StepRef, attempt: int | None = None) -> dict[str, str]:
    """The session labels naming the run, ticket and agent (and attempt) a session serves."""
    labels = {"run": ref.run_id, "ticket": ref.ticket, "agent": ref.agent}
    if attempt is not None:
        labels["attempt"] = str(attempt)
    return {k: v for k, v in labels.items() if v}


def spec_for(ref: StepRef) -> SessionSpec:
    step = ref.typed(SessionStep)
    return SessionSpec(step.name, step.cwd, session_env(ref, step.env), PLACEHOLDER,
                       labels=labels_for(ref), backend=step.backend or "local", mounts=step.mounts)


class SessionKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        try:
            info = eng.runtime.create(spec_for(ref))
        except NoCapacity as exc:  # the queue: this step stays running and tries again on the next reconcile
            return Outcome.running(note=f"queued: {exc.message}", queued=True)
        except MetawsmError as exc:
            return Outcome.failed(f"session of {ref.step.step_id}: {exc.message}")
        eng.forget_sessions()
        return Outcome.done(f"{'created' if info.created else 'adopted'} session {info.name}")

    def start_many(self, eng: Engine, refs: Sequence[StepRef]) -> list[Outcome]:
        """All of a reconcile round's ready sessions with one snapshot and one Runtime call per batch
        (`Runtime.create_many`); when the batch call itself fails, each session is started on its own."""
        try:
            infos = eng.runtime.create_many([spec_for(ref) for ref in refs])
        except MetawsmError:
            return [self.start(eng, ref) for ref in refs]
        eng.forget_sessions()
        return [Outcome.done(f"{'created' if info.created else 'adopted'} session {info.name}") for info in infos]
