"""The one list of step kinds, by the name a step's `kind` field uses."""

from __future__ import annotations

from metawsm.engine.close import close_ticket
from metawsm.engine.kinds.agent import AgentKind
from metawsm.engine.kinds.base import StepKind
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
    "close": CloseKind(close_ticket),
}
