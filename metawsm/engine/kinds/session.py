"""`session:T:A`: the agent's tmux session (cwd = workspace, METAWSM_* environment)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef, session_env
from metawsm.errors import MetawsmError
from metawsm.runtime.tmux import SessionSpec

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


# What a new session's window runs until the agent step respawns it with the agent's command: a process
# that costs nothing, not the user's login shell (starting 50 shells only to kill them slows everything).
PLACEHOLDER = "exec sleep 86400"


class SessionKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        fields = ref.fields
        try:
            info = eng.tmux.ensure_session(fields["name"], fields["cwd"], session_env(ref, fields), PLACEHOLDER)
        except MetawsmError as exc:
            return Outcome.failed(f"tmux session {fields['name']}: {exc.message}")
        eng.forget_panes()
        return Outcome.done(f"{'created' if info.created else 'adopted'} session {fields['name']}")

    def start_many(self, eng: Engine, refs: Sequence[StepRef]) -> list[Outcome]:
        """All of a reconcile round's ready sessions with one snapshot and one tmux invocation per batch
        (`Tmux.start_many`); when the batch call itself fails, each session is started on its own."""
        specs = [SessionSpec(ref.fields["name"], ref.fields["cwd"], session_env(ref, ref.fields), PLACEHOLDER)
                 for ref in refs]
        try:
            infos = eng.tmux.start_many(specs)
        except MetawsmError:
            return [self.start(eng, ref) for ref in refs]
        eng.forget_panes()
        return [Outcome.done(f"{'created' if info.created else 'adopted'} session {info.name}") for info in infos]
