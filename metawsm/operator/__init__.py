"""The operator: supervision decisions over the engine's health (restart, escalate, stop stale runs)
within a budget persisted in state.db, with an optional LLM adviser (off / assist / auto)."""

from __future__ import annotations

from metawsm.operator.loop import MODES, Operator
from metawsm.operator.rules import Decision

__all__ = ["MODES", "Decision", "Operator"]
