"""What `metawsm plan` computes: each selected plan rendered, and its diff against a recorded graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metawsm.config.loader import Config
from metawsm.config.models import Plan
from metawsm.errors import Diagnostic, PlanError
from metawsm.plan.build import render_plan
from metawsm.plan.diff import StepChange, diff, has_changes, summary
from metawsm.plan.graph import StepGraph

# Given a plan, the graph recorded for its run (None: no run yet, every step is new).
RecordedLookup = Callable[[Plan], "StepGraph | None"]
# Given a plan's tickets, those merged or abandoned: ticket -> state.
SettledLookup = Callable[[Sequence[str]], Mapping[str, str]]


@dataclass(frozen=True)
class PlanPreview:
    plan: Plan
    graph: StepGraph
    recorded: StepGraph | None
    changes: tuple[StepChange, ...]

    @property
    def changed(self) -> bool:
        return has_changes(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.plan.name,
            "source": self.plan.source,
            "summary": summary(self.changes),
            "changes": [c for c in self.changes if c.mark != "="],  # StepChange: to_json() / json_text()
            "graph": self.graph,  # encoded by plan/jsonfmt.py (or via its to_json())
        }


def preview(config: Config, plans: Sequence[Plan], *, project_root: Path,
            recorded: RecordedLookup | None = None, run_id: str | None = None,
            run_ids: Callable[[Plan], str | None] | None = None,
            settled: SettledLookup | None = None) -> list[PlanPreview]:
    """Render every plan (all errors of all plans raised together) and diff each against its record."""
    out: list[PlanPreview] = []
    diags: list[Diagnostic] = []
    for plan in plans:
        try:
            rid = run_ids(plan) if run_ids is not None else run_id
            graph = render_plan(config, plan, project_root=project_root, run_id=rid)
        except PlanError as exc:
            diags += exc.diagnostics
            continue
        old = recorded(plan) if recorded is not None else None
        done = settled(graph.tickets) if settled is not None else None
        out.append(PlanPreview(plan, graph, old, tuple(diff(old, graph, done))))
    if diags:
        raise PlanError(diags, hint="fix the files above, then run `metawsm plan` again")
    return out
