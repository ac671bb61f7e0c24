"""The planner: sandboxed rendering of tickets x agents x policy into a step graph, and its diff.

The names below load on first use (PEP 562): `metawsm.plan.steps` — the typed step records the gate, its git
hooks and `close` read — is imported without the renderer (jinja2) or the config loader (yaml, jsonschema).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metawsm.plan.build import RUN_PLACEHOLDER, render_plan
    from metawsm.plan.diff import StepChange, has_changes
    from metawsm.plan.graph import Step, StepGraph

# (the diff function is `metawsm.plan.diff.diff`: the package attribute `diff` is its module once imported)
_WHERE = {"RUN_PLACEHOLDER": "build", "render_plan": "build", "StepChange": "diff", "has_changes": "diff",
          "Step": "graph", "StepGraph": "graph"}

__all__ = ["RUN_PLACEHOLDER", "Step", "StepChange", "StepGraph", "has_changes", "render_plan"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"metawsm.plan.{module}"), name)
    globals()[name] = value
    return value
