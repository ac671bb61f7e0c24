"""Ending runs: `cleanup` ends a run in any state (never losing work unless forced), `forget` drops its records.

cleanup stops what still runs, kills the run's sessions, removes each unmerged ticket's worktree and branch
(refusing, and listing the commits, when that would lose work — `--force` ends it anyway; `--keep-workspaces`
keeps them), moves the run to `ended` (a closed run stays closed) and sends its unfinished tickets back to
`open`. Merged tickets stay remembered. forget (Terraform's `state rm`) touches neither git nor tmux.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from metawsm.engine.agentmoves import move
from metawsm.engine.apply import stop_step
from metawsm.engine.lifecycle import LIVE_AGENT, ActionResult, _sessions
from metawsm.engine.locking import locked
from metawsm.errors import MetawsmError
from metawsm.plan.steps import WorkspaceStep, typed
from metawsm.runtime import git

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

SHOWN_COMMITS = 10


def losses(eng: Engine, run: Run) -> dict[str, list[str]]:
    """Per ticket (not merged), the work that removing its worktree and branch would lose: uncommitted files and
    each commit not in the base branch."""
    from metawsm.engine.tickets import settled

    steps = [s for s in eng.store.list_steps(run.run_id) if s.kind == "workspace"]
    done = settled(eng, [s.ticket for s in steps if s.ticket])
    found: dict[str, list[str]] = {}
    for step in steps:
        if step.ticket in done:
            continue
        ws = typed(step, WorkspaceStep)
        lost: list[str] = []
        for name, repo in sorted(ws.repos.items()):
            if Path(repo.path).exists():
                lost += [f"{name}: uncommitted {p}" for p in git.is_dirty(repo.path)]
            if git.branch_exists(repo.repo_root, ws.branch):
                log = git.git(repo.repo_root, "log", "--format=%h %s", ws.branch, f"^{repo.base_branch}",
                              "--").stdout.splitlines()
                if log:
                    lost.append(f"{name}: {len(log)} commit(s) on {ws.branch} not merged into "
                                f"{repo.base_branch}: " + "; ".join(log[:SHOWN_COMMITS])
                                + (" …" if len(log) > SHOWN_COMMITS else ""))
        if lost:
            found[step.ticket or ""] = lost
    return found


@locked("cleanup")
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
            result.actions.append(f"stopped step {step.step_id}")
    for agent in eng.store.list_agents(run.run_id):
        if agent.status in LIVE_AGENT:
            move(eng, agent, "stopping", "stopped", reason="cleaned up")
    from metawsm.engine.remotelogs import sync_transcripts

    sync_transcripts(eng, run.run_id)  # transcripts kept on a host come back before its folder is removed
    for name in _sessions(eng, run):
        if eng.runtime.kill(name):
            result.actions.append(f"ended session {name}")
    result.actions += [f"removed {item}" for item in eng.runtime.release(run.run_id)]
    if not keep_workspaces:
        from metawsm.engine.tickets import settled

        steps = [s for s in eng.store.list_steps(run.run_id) if s.kind == "workspace"]
        done = settled(eng, [s.ticket for s in steps if s.ticket])
        for step in steps:
            if step.ticket not in done or force:
                result.actions += remove_workspace(typed(step, WorkspaceStep), force=force)
    run = eng.store.get_run(run.run_id)
    if run.status not in ("closed", "ended"):
        run = eng.store.transition_run(run.run_id, "ended", "cleaned up")
        result.actions.append("run ended")
    eng.store.forget_tickets_of_run(run.run_id)
    result.status = run.status
    return result


def remove_workspace(ws: WorkspaceStep, *, force: bool) -> list[str]:
    actions = []
    for name, repo in sorted(ws.repos.items()):
        try:
            if git.remove_worktree(repo.repo_root, repo.path, force=force):
                actions.append(f"removed worktree {repo.path}")
            if git.delete_branch(repo.repo_root, ws.branch, force=force):
                actions.append(f"deleted branch {ws.branch} in {name}")
        except MetawsmError as exc:
            actions.append(f"could not remove {repo.path}: {exc.message}")
    return actions


@locked("forget")
def forget_run(eng: Engine, run: Run) -> ActionResult:
    """Drop the run's records from state.db; git and tmux are not touched (Terraform's `state rm`)."""
    eng.store.forget_tickets_of_run(run.run_id)
    eng.store.forget_run(run.run_id)
    return ActionResult(run.run_id, "forgotten", [f"forgot run {run.run_id} ({run.status}); git and tmux untouched"])


def abandon_ticket(eng: Engine, ticket: str) -> ActionResult:
    """Give up on a ticket: what of it still runs is stopped, and it becomes `abandoned` — remembered like a
    merged ticket (`plan` shows it converged, `apply` leaves it alone) until `metawsm reopen`. Its worktree and
    branch stay (`metawsm cleanup --run R --force` removes them)."""
    from metawsm.engine.closeplan import run_for_ticket
    from metawsm.engine.lifecycle import stop_run
    from metawsm.engine.tickets import close_run_if_done, drop_from_graph, walk

    state = eng.store.require_ticket(ticket)
    if state.status == "merged":
        raise MetawsmError(f"ticket {ticket} is merged; it cannot be abandoned",
                           hint=f"`metawsm reopen {ticket}` first to work on it again")
    if state.status == "closing":
        raise MetawsmError(f"ticket {ticket} is being closed",
                           hint=f"`metawsm close --ticket {ticket}` finishes or rolls back that close first")
    run = run_for_ticket(eng, ticket)
    result = ActionResult(run.run_id, run.status)
    if state.status != "abandoned":
        if run.status not in ("closed", "ended"):
            result.actions += [a for a in stop_run(eng, run, ticket=ticket, reason="abandoned by a person").actions
                               if a != "nothing was running"]
        walk(eng, ticket, "abandoned", "abandoned by a person", run=run)
        result.actions.append(f"{ticket}: abandoned")
        run = close_run_if_done(eng, drop_from_graph(eng, eng.store.get_run(run.run_id), ticket))
    else:
        result.actions.append(f"{ticket}: already abandoned")
    result.status = run.status
    return result
