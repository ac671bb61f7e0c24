"""The planner: sandboxed rendering of tickets x agents x policy into a step graph, and its diff."""

from __future__ import annotations

from metawsm.plan.build import RUN_PLACEHOLDER, render_plan
from metawsm.plan.diff import StepChange, diff, has_changes
from metawsm.plan.graph import Step, StepGraph

__all__ = ["RUN_PLACEHOLDER", "Step", "StepChange", "StepGraph", "diff", "has_changes", "render_plan"]
