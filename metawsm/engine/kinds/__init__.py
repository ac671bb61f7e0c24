"""Step kinds: one object per kind implementing the StepKind protocol, found through REGISTRY."""

from __future__ import annotations

from metawsm.engine.kinds.agent import AgentKind
from metawsm.engine.kinds.base import Outcome, StepKind, StepRef
from metawsm.engine.kinds.check import CheckKind
from metawsm.engine.kinds.close import CloseKind
from metawsm.engine.kinds.gate import GateKind
from metawsm.engine.kinds.session import SessionKind
from metawsm.engine.kinds.shell import ShellKind
from metawsm.engine.kinds.workspace import WorkspaceKind

REGISTRY: dict[str, StepKind] = {
    "workspace": WorkspaceKind(),
    "session": SessionKind(),
    "agent": AgentKind(),
    "check": CheckKind(),
    "gate": GateKind(),
    "shell": ShellKind(),
    "close": CloseKind(),
}


__all__ = ["REGISTRY", "Outcome", "StepKind", "StepRef"]
