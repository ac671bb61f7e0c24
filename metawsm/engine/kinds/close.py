"""`close:T` (plans with auto_close): close the ticket as soon as its gate passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from metawsm.engine.kinds.base import Immediate, Outcome, StepRef
from metawsm.errors import MetawsmError

if TYPE_CHECKING:
    from metawsm.engine.context import Engine


class CloseKind(Immediate):
    """Handed the close operation (`engine.close.close_ticket`) by the registry: a kind imports no verb."""

    def __init__(self, close_ticket: Callable[..., Any]) -> None:
        self.close_ticket = close_ticket

    def start(self, eng: Engine, ref: StepRef) -> Outcome:
        try:
            result = self.close_ticket(eng, ref.run, ref.ticket, from_step=True)
        except MetawsmError as exc:
            return Outcome.failed(exc.message)
        return Outcome.done(f"merged {result.branch} into {result.base_branch} at {(result.merged_sha or '')[:12]}")
