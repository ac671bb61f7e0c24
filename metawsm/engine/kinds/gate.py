"""`gate:T`: the close gate (clean tree, completion, validation at HEAD, forbidden files, commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


class GateKind(Immediate):
    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        from metawsm.gate.evaluate import evaluate

        result = evaluate(eng, ref.run, ref.ticket)
        if result.passed:
            return Outcome.done("gate passed")
        return Outcome.failed("gate refused: " + "; ".join(c.summary() for c in result.failed()))
