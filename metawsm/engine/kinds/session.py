"""`session:T:A`: the agent's tmux session (cwd = workspace, METAWSM_* environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef, session_env
from metawsm.errors import MetawsmError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


class SessionKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        fields = ref.fields
        try:
            info = eng.tmux.ensure_session(fields["name"], fields["cwd"], session_env(ref, fields), None)
        except MetawsmError as exc:
            return Outcome.failed(f"tmux session {fields['name']}: {exc.message}")
        eng.forget_panes()
        return Outcome.done(f"{'created' if info.created else 'adopted'} session {fields['name']}")
