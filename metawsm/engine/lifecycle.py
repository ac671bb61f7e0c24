"""Operator actions on runs: stop, resume, restart agents, clean up (never losing work without --force)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawsm.engine.apply import reset_step, stop_step
from metawsm.engine.kinds.agent import move
from metawsm.errors import MetawsmError, NotFoundError, UsageError
from metawsm.runtime import git
from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

LIVE_AGENT = ("pending", "running", "idle", "stalled")


@dataclass
class ActionResult:
    run_id: str
    status: str
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "actions": self.actions}


def _move_run(eng: Engine, run: Run, *targets: str, reason: str) -> Run:
    for target in targets:
        if run.status != target and can_transition("run", run.status, target):
            run = eng.store.transition_run(run.run_id, target, reason)
    return run


def _sessions(eng: Engine, run: Run) -> list[str]:
    from metawsm.engine.kinds.base import StepRef
    from metawsm.engine.kinds.shell import session_for

    names = [a.session for a in eng.store.list_agents(run.run_id) if a.session]
    for step in eng.store.list_steps(run.run_id):
        if step.kind == "shell" and json.loads(step.fields_json or "{}").get("tmux"):
            names.append(session_for(StepRef(run, step)))
    return names


def stop_run(eng: Engine, run: Run, *, reason: str = "stopped by a person") -> ActionResult:
    if not can_transition("run", run.status, "stopping"):
        raise MetawsmError(f"run {run.run_id} is {run.status}; it cannot be stopped",
                           hint="a complete run is closed with `metawsm close` or removed with `metawsm cleanup`")
    result = ActionResult(run.run_id, run.status)
    run = _move_run(eng, run, "stopping", reason=reason)
    for step in eng.store.list_steps(run.run_id):
        if step.status == "running":
            stop_step(eng, run, step)
            eng.store.transition_step(run.run_id, step.step_id, "failed", reason,
                                      error=reason)
            result.actions.append(f"stopped step {step.step_id}")
    for agent in eng.store.list_agents(run.run_id):
        if agent.status in LIVE_AGENT:
            move(eng, agent, "stopping", "stopped", reason=reason)
            eng.store.update_agent(run.run_id, agent.ticket, agent.name, stopped_by_user=True)
            result.actions.append(f"stopped agent {agent.ticket}/{agent.name}")
    for name in _sessions(eng, run):
        if eng.tmux.kill_session(name):
            result.actions.append(f"killed tmux session {name}")
    run = _move_run(eng, eng.store.get_run(run.run_id), "stopped", reason=reason)
    result.status = run.status
    return result


def resume_run(eng: Engine, run: Run, *, max_parallel: int | None = None) -> ActionResult:
    from metawsm.engine.reconcile import reconcile

    if run.status in ("running", "awaiting_guidance"):
        result = ActionResult(run.run_id, run.status, ["already running"])
    elif not can_transition("run", run.status, "running"):
        raise MetawsmError(f"run {run.run_id} is {run.status}; it cannot be resumed")
    else:
        result = ActionResult(run.run_id, run.status)
        for step in eng.store.list_steps(run.run_id):
            if step.status == "failed":
                reset_step(eng, run, step, "resumed")
                result.actions.append(f"will re-run {step.step_id}")
        for agent in eng.store.list_agents(run.run_id):
            if agent.stopped_by_user:
                eng.store.update_agent(run.run_id, agent.ticket, agent.name, stopped_by_user=False)
        _move_run(eng, run, "running", reason="resumed by a person")
    outcome = reconcile(eng, run.run_id, max_parallel=max_parallel)
    result.actions += [f"{e.step_id}: {e.status}" for e in outcome.events]
    result.status = outcome.status
    return result


def restart_note_path(eng: Engine, run_id: str, ticket: str, agent: str) -> Path:
    return eng.project.state_dir / "restart" / run_id / f"{ticket}__{agent}.txt"


def restart_note(eng: Engine, run: Run, ticket: str, agent_name: str, reason: str) -> str:
    agent = eng.store.get_agent(run.run_id, ticket, agent_name)
    lines = [f"NOTE: this is a restart (attempt {agent.attempt + 1}; previous attempt {agent.attempt} "
             f"ended: {reason})."]
    if agent.attempt >= 1:
        state = eng.forum.control_state(run.run_id, eng.agent_key(ticket, agent_name), agent.attempt)
        if state.pending_question:
            lines.append(f"Your last question is still unanswered: {state.pending_question}")
        if state.last_answer:
            lines.append(f"Latest answer you received: {state.last_answer[0]}")
        if state.completion:
            lines.append(f"You had reported completion: {state.completion[0] or '(no summary)'}")
    lines.append("Check the workspace (git log, git status) for the work already done before continuing.")
    return "\n".join(lines)


def restart_agents(eng: Engine, run: Run, *, agent: str | None = None, reason: str = "restarted by a person",
                   max_parallel: int | None = None) -> ActionResult:
    """New attempt for the selected agents (all of the run by default); their dependents run again."""
    from metawsm.engine.reconcile import reconcile

    if run.status == "closed" or run.status == "closing":
        raise MetawsmError(f"run {run.run_id} is {run.status}; nothing to restart")
    agents = eng.store.list_agents(run.run_id)
    if agent:
        ticket, _, name = agent.rpartition("/")
        agents = [a for a in agents if a.name == name and (not ticket or a.ticket == ticket)]
        if not agents:
            raise NotFoundError(f"no agent {agent!r} in run {run.run_id}")
        if len({a.ticket for a in agents}) > 1:
            raise UsageError(f"agent {agent!r} exists for several tickets; name one: "
                             + ", ".join(f"{a.ticket}/{a.name}" for a in agents))
    result = ActionResult(run.run_id, run.status)
    steps = {s.step_id: s for s in eng.store.list_steps(run.run_id)}
    from metawsm.plan.graph import StepGraph

    graph = StepGraph.from_json(json.loads(run.graph_json))
    rerun: set[str] = set()
    for a in agents:
        step = steps.get(f"agent:{a.ticket}:{a.name}")
        if step is None:
            continue
        note = restart_note_path(eng, run.run_id, a.ticket, a.name)
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(restart_note(eng, run, a.ticket, a.name, reason), encoding="utf-8")
        reset_step(eng, run, step, reason)
        rerun.add(step.step_id)
        result.actions.append(f"restarting {a.ticket}/{a.name} (attempt {a.attempt + 1})")
    for s in graph.steps:  # dependents of a restarted agent run again after it
        row = steps.get(s.id)
        if row and s.id not in rerun and any(n in rerun for n in s.needs) and row.status != "pending":
            reset_step(eng, run, eng.store.get_step(run.run_id, s.id), "a step it needs runs again")
            rerun.add(s.id)
    _move_run(eng, eng.store.get_run(run.run_id), "running", reason=reason)
    outcome = reconcile(eng, run.run_id, max_parallel=max_parallel)
    result.status = outcome.status
    return result


def losses(eng: Engine, run: Run) -> dict[str, list[str]]:
    """Per ticket, the work that removing its worktree and branch would lose."""
    found: dict[str, list[str]] = {}
    for step in eng.store.list_steps(run.run_id):
        if step.kind != "workspace":
            continue
        fields = json.loads(step.fields_json or "{}")
        lost: list[str] = []
        for name, repo in sorted(fields.get("repos", {}).items()):
            if Path(repo["path"]).exists():
                lost += [f"{name}: uncommitted {p}" for p in git.is_dirty(repo["path"])]
            if git.branch_exists(repo["repo_root"], fields["branch"]):
                commits = git.unmerged_commits(repo["repo_root"], fields["branch"], repo["base_branch"])
                if commits:
                    lost.append(f"{name}: {len(commits)} commit(s) on {fields['branch']} not merged into "
                                f"{repo['base_branch']}")
        if lost:
            found[step.ticket or ""] = lost
    return found


def cleanup_run(eng: Engine, run: Run, *, keep_workspaces: bool = False, force: bool = False) -> ActionResult:
    result = ActionResult(run.run_id, run.status)
    if not keep_workspaces and not force:
        lost = losses(eng, run)
        if lost:
            detail = "; ".join(f"{t}: {', '.join(items)}" for t, items in sorted(lost.items()))
            raise MetawsmError(f"cleanup of run {run.run_id} refused: it would lose {detail}",
                               hint="merge with `metawsm close`, keep them with --keep-workspaces, "
                                    "or discard them with --force")
    for step in eng.store.list_steps(run.run_id):
        if step.status == "running":
            stop_step(eng, run, step)
            eng.store.transition_step(run.run_id, step.step_id, "failed", "cleaned up", error="cleaned up")
    for agent in eng.store.list_agents(run.run_id):
        if agent.status in LIVE_AGENT:
            move(eng, agent, "stopping", "stopped", reason="cleaned up")
    for name in _sessions(eng, run):
        if eng.tmux.kill_session(name):
            result.actions.append(f"killed tmux session {name}")
    run = _move_run(eng, eng.store.get_run(run.run_id), "stopping", "stopped", reason="cleaned up")
    if not keep_workspaces:
        for step in eng.store.list_steps(run.run_id):
            if step.kind == "workspace":
                result.actions += remove_workspace(json.loads(step.fields_json or "{}"), force=force)
    result.status = run.status
    return result


def remove_workspace(fields: dict[str, Any], *, force: bool) -> list[str]:
    actions = []
    for name, repo in sorted(fields.get("repos", {}).items()):
        try:
            if git.remove_worktree(repo["repo_root"], repo["path"], force=force):
                actions.append(f"removed worktree {repo['path']}")
            if git.delete_branch(repo["repo_root"], fields["branch"], force=force):
                actions.append(f"deleted branch {fields['branch']} in {name}")
        except MetawsmError as exc:
            actions.append(f"could not remove {repo['path']}: {exc.message}")
    return actions
