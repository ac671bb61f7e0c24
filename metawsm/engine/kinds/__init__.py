"""Step kinds: one object per kind implementing the StepKind protocol (the list of them is
`metawsm.engine.registry.REGISTRY`). A kind imports no verb: the close kind is handed the close operation."""

from __future__ import annotations

from metawsm.engine.kinds.base import Outcome, StepKind, StepRef

__all__ = ["Outcome", "StepKind", "StepRef"]
