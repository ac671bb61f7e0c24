"""`apply`: validate and preflight everything, then create (or reuse) the plan's run, bring its recorded
steps in line with the rendered graph, and reconcile once.

Step sync: new steps are added as pending; a changed step that has not started is updated; a changed
finished (or failed) step is reset to pending so it runs again; a changed running step is stopped and
reset; steps no longer in the plan are skipped (finished ones stay as they were). A check whose ticket branch
moved since it validated runs again (with the steps after it). Tickets merged or abandoned are left alone:
their steps are not part of what apply records (`metawsm reopen T` brings a ticket back).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawsm.engine.kinds import StepRef
from metawsm.engine.reconcile import ReconcileResult, reconcile
from metawsm.engine.registry import REGISTRY
from metawsm.errors import MetawsmError, StateError
from metawsm.plan import StepChange, StepGraph, render_plan
from metawsm.plan.diff import diff
from metawsm.plan.graph import Step
from metawsm.plan.steps import AgentStep, CheckStep, SessionStep, ShellStep, WorkspaceStep
from metawsm.runtime import git, proc

if TYPE_CHECKING:
    from metawsm.config.loader import Config
    from metawsm.config.models import Plan
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

SESSION_KINDS = ("session", "agent")


class PreflightError(MetawsmError):
    """Something apply needs is missing; nothing was changed."""

    code = "preflight_failed"


@dataclass
class ApplyResult:
    plan: str
    run_id: str | None
    created: bool
    dry_run: bool
    changes: list[StepChange]
    status: str
    reconcile: ReconcileResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan, "run_id": self.run_id, "created": self.created, "dry_run": self.dry_run,
            "status": self.status,
            "changes": [c.to_json() for c in self.changes if c.mark != "="],
            "unchanged": sum(1 for c in self.changes if c.mark == "="),
            "events": [e.to_json() for e in self.reconcile.events] if self.reconcile else [],
        }


def recorded_graph(run: Run | None) -> StepGraph | None:
    """The step graph a run recorded at its last apply."""
    if run is None or not run.graph_json:
        return None
    return StepGraph.from_json(json.loads(run.graph_json))


def new_run_id(plan_name: str) -> str:
    return f"{plan_name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def graph_hash(graph: StepGraph) -> str:
    from metawsm.engine.tickets import graph_hash_of

    return graph_hash_of((s.id, s.definition_hash) for s in graph.steps)


def preflight(eng: Engine, graph: StepGraph) -> list[str]:
    """Everything that would make apply fail half-way, found before anything is created."""
    problems: list[str] = []
    if proc.which("git") is None:
        return ["git is not installed (or not on PATH)"]
    if any(s.kind in SESSION_KINDS or (isinstance(s.spec, ShellStep) and s.spec.tmux) for s in graph.steps):
        eng.runtime.use(s.spec.backend or "local" for s in graph.steps if isinstance(s.spec, SessionStep | AgentStep))
        problems += eng.runtime.problems()
    for step in graph.steps:
        spec = step.spec
        if isinstance(spec, WorkspaceStep):
            problems += _workspace_problems(spec)
        elif isinstance(spec, AgentStep):
            missing = False
            for binary in spec.requires:
                if proc.which(binary) is None:
                    missing = True
                    problems.append(f"{step.id}: profile {spec.profile!r} needs `{binary}`, which is not on PATH")
            if not missing and spec.cli:
                from metawsm.agents.versions import problem

                found = problem(spec.cli)
                if found:
                    problems.append(f"{step.id}: profile {spec.profile!r}: {found}")
    return sorted(set(problems), key=problems.index)


def _workspace_problems(ws: WorkspaceStep) -> list[str]:
    problems = []
    for name, repo in sorted(ws.repos.items()):
        root = Path(repo.repo_root)
        if not (root / ".git").exists():
            problems.append(f"repo {name}: {root} is not a git repository")
            continue
        if not git.ref_exists(root, f"refs/heads/{ws.branch}") and not git.ref_exists(
                root, f"refs/heads/{repo.base_branch}"):
            problems.append(f"repo {name}: base branch {repo.base_branch!r} does not exist in {root} "
                            f"(set workspace.base_branch in the policy)")
        path = Path(repo.path)
        if path.exists() and any(path.iterdir()):
            known = {Path(w.path).resolve() for w in git.list_worktrees(root)}
            if path.resolve() not in known:
                problems.append(f"repo {name}: {path} exists and is not a worktree of {root}; move it away")
    return problems


def _sync_steps(eng: Engine, run: Run, graph: StepGraph, recorded: StepGraph | None = None) -> None:
    store, run_id = eng.store, run.run_id
    rows = {s.step_id: s for s in store.list_steps(run_id)}
    back = {s.id for s in graph.steps} - set(recorded.by_id) if recorded is not None else set()
    rerun: set[str] = set()  # steps that will run again: their finished dependents must too
    for step in graph.steps:  # topological order: needs come first
        fields_json = step.stored_json()
        row = rows.get(step.id)
        if row is None:
            store.upsert_step(run_id, step.id, step.kind, step.ticket, step.agent, step.definition_hash, fields_json)
            rerun.add(step.id)
            continue
        if step.id in back and row.status != "pending":  # back in the plan (e.g. a reopened ticket)
            store.set_step_definition(run_id, step.id, step.definition_hash, fields_json)
            reset_step(eng, run, row, "back in the plan")
            rerun.add(step.id)
        elif row.definition_hash != step.definition_hash:
            store.set_step_definition(run_id, step.id, step.definition_hash, fields_json)
            reset_step(eng, run, row, "definition changed")
            rerun.add(step.id)
        elif row.status == "failed":
            reset_step(eng, run, row, "re-applied")
            rerun.add(step.id)
        elif step.kind == "check" and row.status == "done" and _branch_moved(eng, run, step):
            reset_step(eng, run, row, "the ticket branch moved since its checks ran")
            rerun.add(step.id)
        elif any(n in rerun for n in step.needs) and row.status != "pending":
            reset_step(eng, run, row, "a step it needs runs again")
            rerun.add(step.id)
    for sid, row in rows.items():
        if sid not in graph.by_id and row.status in ("pending", "running", "failed"):
            if row.status == "running":
                stop_step(eng, run, row)
                store.transition_step(run_id, sid, "failed", "removed from the plan", error="removed from the plan")
            store.transition_step(run_id, sid, "skipped", "removed from the plan")
    for step in graph.steps:
        spec = step.spec
        if isinstance(spec, AgentStep) and step.ticket and step.agent:
            store.upsert_agent(run_id, step.ticket, step.agent, spec.profile, spec.session)


def _branch_moved(eng: Engine, run: Run, step: Step) -> bool:
    """Whether the ticket's HEAD differs from the commit its latest validation was for."""
    from metawsm.gate.evaluate import latest_validation

    spec = step.spec
    if not isinstance(spec, CheckStep):
        return False
    try:
        head = git.head_sha(spec.cwd)
    except MetawsmError:
        return False
    latest = latest_validation(eng, run.run_id, step.ticket or "")
    return latest is not None and (latest.get("sha") or "") != head


def without_tickets(graph: StepGraph, tickets: set[str]) -> StepGraph:
    """`graph` minus the steps of `tickets` (merged/abandoned); needs on them count as met. Definition hashes
    are kept, so a plan-wide step is not "changed" by a ticket settling."""
    if not tickets:
        return graph
    gone = {s.id for s in graph.steps if s.ticket in tickets}
    steps = tuple(dataclasses.replace(s, needs=tuple(n for n in s.needs if n not in gone))
                  for s in graph.steps if s.id not in gone)
    return StepGraph(graph.plan_name, steps, graph.source)


def stop_step(eng: Engine, run: Run, row: Any) -> None:
    kind = REGISTRY.get(row.kind)
    if kind is not None:
        with contextlib.suppress(MetawsmError):
            kind.stop(eng, StepRef(run, row))


def reset_step(eng: Engine, run: Run, row: Any, reason: str) -> None:
    """Put a step back to pending so it runs again (stopping it first when it is running)."""
    store, sid = eng.store, row.step_id
    if row.status == "running":
        stop_step(eng, run, row)
        store.transition_step(run.run_id, sid, "failed", reason, error=reason)
        store.transition_step(run.run_id, sid, "skipped", reason)
    elif row.status == "failed":
        store.transition_step(run.run_id, sid, "skipped", reason)
    if store.get_step(run.run_id, sid).status in ("done", "skipped"):
        store.transition_step(run.run_id, sid, "pending", reason)


def _start_run(eng: Engine, run: Run, changed: bool) -> Run:
    store = eng.store
    path = {"created": ["planning", "running"], "planning": ["running"], "paused": ["running"],
            "failed": ["running"], "stopped": ["running"], "complete": ["running"] if changed else [],
            "closing": ["running"] if changed else []}
    for status in path.get(run.status, []):
        run = store.transition_run(run.run_id, status, "apply")
    return run


def apply_plan(eng: Engine, config: Config, plan: Plan, *, dry_run: bool = False,
               max_parallel: int | None = None) -> ApplyResult:
    """One apply operation: the plan's lease (so two applies of a plan never both create or sync its run),
    then its active run's lease, held until the apply is done (a dry run changes nothing and takes none)."""
    from metawsm.engine.locking import operation, plan_key

    if dry_run:
        return _apply_plan(eng, config, plan, dry_run=True, max_parallel=max_parallel)
    with operation(eng, plan_key(plan.name), "apply"):
        active = eng.store.active_run_for_plan(plan.name)
        if active is None:
            return _apply_plan(eng, config, plan, max_parallel=max_parallel)
        with operation(eng, active.run_id, "apply"):
            return _apply_plan(eng, config, plan, max_parallel=max_parallel)


def _apply_plan(eng: Engine, config: Config, plan: Plan, *, dry_run: bool = False,
                max_parallel: int | None = None) -> ApplyResult:
    """Render, preflight, diff against the recorded run, then (unless dry_run) record and reconcile."""
    from metawsm.engine.tickets import settled

    active = eng.store.active_run_for_plan(plan.name) if (eng.has_state() or not dry_run) else None
    run_id = active.run_id if active else new_run_id(plan.name)
    graph = render_plan(config, plan, project_root=eng.project.root, run_id=run_id)
    recorded = recorded_graph(active)
    done = settled(eng, graph.tickets)
    changes = diff(recorded, graph, done)
    changed = any(c.mark != "=" for c in changes)
    graph = without_tickets(graph, set(done))
    problems = preflight(eng, graph)
    if problems:
        raise PreflightError("cannot apply plan " + plan.name + ": " + "; ".join(problems),
                             hint="fix these first; nothing was changed")
    if dry_run:
        return ApplyResult(plan.name, active.run_id if active else None, False, True, changes,
                           active.status if active else "(new run)")
    if active is None and not graph.steps:  # every ticket merged or abandoned: converged, no run needed
        return ApplyResult(plan.name, None, False, False, changes, "converged")
    if active is None:
        try:
            run = eng.store.create_run(run_id, plan.name, graph_hash(graph), _graph_json(graph))
        except StateError:  # another apply created the plan's run meanwhile (one active run per plan)
            active = eng.store.active_run_for_plan(plan.name)
            if active is None:
                raise
            return apply_plan(eng, config, plan, dry_run=dry_run, max_parallel=max_parallel)
    else:
        run = eng.store.update_run_graph(run_id, graph_hash(graph), _graph_json(graph))
    _sync_steps(eng, run, graph, recorded)
    run = _start_run(eng, eng.store.get_run(run_id), changed or active is None or _has_pending(eng, run_id))
    from metawsm.engine.tickets import sync_tickets

    sync_tickets(eng, run)
    result = reconcile(eng, run_id, max_parallel=max_parallel)
    return ApplyResult(plan.name, run_id, active is None, False, changes, result.status, result)


def _has_pending(eng: Engine, run_id: str) -> bool:
    """Steps reset by the sync (failed, or a moved branch) make a complete run run again."""
    return bool(eng.store.list_steps(run_id, statuses=["pending"]))


def _graph_json(graph: StepGraph) -> str:
    return json.dumps(graph.to_json(), sort_keys=True, ensure_ascii=False)
