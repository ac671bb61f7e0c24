"""Close a ticket: a crash-safe transaction driven by the ticket's own state, whatever its run or siblings do.

1. Under a lock per repository (one merge into a base branch at a time), finish or roll back an interrupted
   close of this ticket by asking git whether its recorded commit is in the base branch.
2. Re-check the gate (catching work pushed past the hooks); a passing gate makes the ticket `ready`.
3. Check every repository of the ticket and build each close commit (closegit.prepare) — a conflict, a dirty
   base checkout or a local file in the way refuses the close before anything changed.
4. Record the intent (ticket → `closing`), move each base branch in one step, record `merged`.
5. Tidy: sessions killed, worktree removed, branch deleted — each failure only a warning.
A dry run reports what would happen and changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine import closegit
from metawsm.engine.locking import locked
from metawsm.errors import GateRefused, MetawsmError
from metawsm.gate.evaluate import evaluate, workspace_spec
from metawsm.plan.steps import RepoWorktree, WorkspaceStep
from metawsm.runtime import git
from metawsm.state.db import now
from metawsm.state.tickets import CloseIntent

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run


@dataclass
class CloseResult:
    run_id: str
    ticket: str
    dry_run: bool
    strategy: str
    branch: str
    base_branch: str
    commits: list[str] = field(default_factory=list)
    diffstat: list[str] = field(default_factory=list)  # dry run: what the merge brings, per file
    merged_sha: str | None = None
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ticket_title(eng: Engine, ticket: str) -> str:
    import yaml

    try:
        data = yaml.safe_load((eng.project.tickets_dir / f"{ticket}.yaml").read_text(encoding="utf-8"))
        return str(data.get("title") or ticket)
    except (OSError, yaml.YAMLError, AttributeError):
        return ticket


@locked("close")
def close_ticket(eng: Engine, run: Run, ticket: str, *, dry_run: bool = False, from_step: bool = False) -> CloseResult:
    """Close `ticket` of `run` (its workspace step names branch and repos). `from_step`: called by `close:T`."""
    ws = workspace_spec(eng, run.run_id, ticket)
    repos = ws.repos_in_order()
    result = CloseResult(run.run_id, ticket, dry_run, eng.policy.close.merge, ws.branch, repos[0][1].base_branch)
    state = eng.store.get_ticket(ticket) if eng.has_state() else None
    if state is not None and state.status == "abandoned":
        raise MetawsmError(f"ticket {ticket} is abandoned; it is not closed",
                           hint=f"`metawsm reopen {ticket}` makes it open again")
    if dry_run:
        return _dry_run(eng, run, ticket, ws, repos, result, state)
    merged_tips: dict[str, str] = {}
    with closegit.repo_locks(eng.project.state_dir / "locks", [r.repo_root for _, r in repos]) as locks:
        done = _recover(eng, ticket, result, [name for name, _ in repos])
        state = eng.store.get_ticket(ticket)
        if state is not None and state.status == "merged":
            if not done:
                result.actions.append(f"already merged ({(state.merged_sha or '')[:12]})")
            result.merged_sha = state.merged_sha
        else:
            merged_tips = _merge(eng, run, ticket, ws, repos, result, locks)
    from metawsm.engine.tickets import close_run_if_done, drop_from_graph

    _tidy(eng, run, ticket, ws, result, merged_tips)
    _announce(eng, run, ticket, result)
    if not from_step:  # (a close:T step runs inside reconcile, which must keep its own graph)
        close_run_if_done(eng, drop_from_graph(eng, eng.store.get_run(run.run_id), ticket))
    return result


def _gate(eng: Engine, run: Run, ticket: str) -> None:
    gate = evaluate(eng, run, ticket)
    if not gate.passed:
        raise GateRefused(f"close of {ticket} refused by the gate: " + "; ".join(c.summary() for c in gate.failed()),
                          hint=f"`metawsm gate --ticket {ticket}` shows each check and its fix")


def _dry_run(eng: Engine, run: Run, ticket: str, ws: WorkspaceStep, repos: list[tuple[str, RepoWorktree]],
             result: CloseResult, state: Any) -> CloseResult:
    if state is not None and state.status == "merged":
        result.actions.append(f"already merged ({(state.merged_sha or '')[:12]})")
        return result
    if state is not None and state.status == "closing":
        result.actions.append("would finish or roll back an interrupted close first")
    _gate(eng, run, ticket)
    from metawsm.runtime.gitdiff import branch_diff

    for index, (repo_name, r) in enumerate(repos):
        bd = branch_diff(r.repo_root, r.base_branch, ws.branch, patch=False)  # subjects and diffstat
        result.commits += [f"{repo_name}: {c.sha[:12]} {c.subject}" for c in bd.commits]
        result.diffstat += [f"{repo_name}: {f.path} | " + ("binary" if f.binary else f"+{f.additions} -{f.deletions}")
                            + f" ({f.status})" for f in bd.files]
        result.diffstat.append(f"{repo_name}: {len(bd.files)} files changed, {bd.additions} insertions(+), "
                               f"{bd.deletions} deletions(-)")
        where, clean = closegit.checkout_of(r.repo_root, r.base_branch)
        if where is not None and not clean:
            raise closegit.CloseError(f"{r.base_branch} is checked out in {where} with uncommitted changes; "
                                      "close merges there", hint="commit or stash them, then close again")
        changelog = f", adding a line to tickets/{ticket}.changelog.md in the merge commit" if index == 0 else ""
        result.actions.append(f"would merge {ws.branch} into {r.base_branch} ({result.strategy}) "
                              f"{'in ' + str(where) if where else '(branch checked out nowhere)'}{changelog}")
    result.actions.append(f"would record {ticket} as merged and post the close in the forum")
    result.actions += [f"would end session {a.session}" for a in eng.store.list_agents(run.run_id)
                       if a.ticket == ticket and a.session]
    for _name, repo in sorted(ws.repos.items()):
        result.actions.append(f"would remove worktree {repo.path}")
        if eng.policy.close.delete_branch:
            result.actions.append(f"would delete branch {ws.branch} in {repo.repo_root}")
    return result


def _recover(eng: Engine, ticket: str, result: CloseResult, all_repos: list[str]) -> bool:
    """Finish (every base branch has its recorded commit) or roll back (for the repos where it has not) an
    interrupted close. True when this finished the close; repos already merged keep their intent, so the
    close that follows merges only the others."""
    intents = eng.store.close_intents(ticket)
    if not intents:
        state = eng.store.get_ticket(ticket)
        if state is not None and state.status == "closing":  # intents never written: nothing happened in git
            eng.store.drop_close_intents(ticket, back_to="ready", reason="close interrupted before merging")
        return False
    missing = []
    for i in intents:
        closegit.wait_index_lock(i.checkout, i.repo_root)
        if not closegit.contained(i.repo_root, i.base_branch, i.merge_sha):
            missing.append(i.repo)
    if missing:  # the merge commit was built but never became the base branch: nothing to undo in git
        eng.store.drop_close_intents(ticket, missing, back_to="ready" if len(missing) == len(intents) else None,
                                     reason="interrupted close rolled back")
        result.actions.append(f"rolled back an interrupted close (not merged into: {', '.join(missing)})")
        return False
    if {i.repo for i in intents} != set(all_repos):  # a multi-repo close stopped half-way: merge the rest
        result.actions.append("already merged into: " + ", ".join(i.repo for i in intents))
        return False
    primary = intents[0] if len(intents) == 1 else next((i for i in intents if i.repo == "self"), intents[0])
    eng.store.mark_ticket_merged(primary.run_id, ticket, primary.strategy, primary.base_branch, primary.merge_sha)
    result.merged_sha = primary.merge_sha
    result.actions.append(f"finished an interrupted close: {ticket} was merged at {primary.merge_sha[:12]}")
    return True


def _merge(eng: Engine, run: Run, ticket: str, ws: WorkspaceStep, repos: list[tuple[str, RepoWorktree]],
           result: CloseResult, locks: list[int]) -> dict[str, str]:
    """Merge into every repository not merged yet; {repo: the ticket commit now contained in its base}."""
    from metawsm.engine.tickets import walk

    _gate(eng, run, ticket)
    state = eng.store.get_ticket(ticket)
    if state is None or state.status not in ("ready", "closing"):
        walk(eng, ticket, "ready", "gate passed (close)", run=run)
    already = {i.repo for i in eng.store.close_intents(ticket)}  # merged before an interruption
    title, strategy, stamp = ticket_title(eng, ticket), result.strategy, time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                         time.gmtime())
    prepared = []
    for index, (repo_name, r) in enumerate(repos):
        heads = closegit.tips(r.repo_root, ws.branch, r.base_branch)  # both tips in one git process
        commits = closegit.ahead(r.repo_root, heads, ws.branch, r.base_branch)
        result.commits += [f"{repo_name}: {c}" for c in commits]
        if repo_name in already:
            continue
        sha = heads.get(ws.branch, "?")
        line = (f"- {stamp} closed by metawsm: merged {ws.branch} into {r.base_branch} ({strategy}, "
                f"{sha[:12]}) — run {run.run_id} — {title}")
        message = (f"{ticket}: closed by metawsm (changelog)" if strategy == "ff-only"
                   else f"Merge {ws.branch} ({ticket}: {title})")
        prepared.append(closegit.prepare(repo_name, r.repo_root, ws.branch, r.base_branch, strategy,
                                         message, (ticket, line) if index == 0 else None, heads=heads,
                                         commits=commits))
    at = now()
    eng.store.record_close_intents(run.run_id, ticket, [CloseIntent(
        ticket, p.repo, run.run_id, p.repo_root, p.checkout, p.strategy, p.branch, p.base_branch, p.ticket_sha,
        p.base_sha, p.merge_sha, at) for p in prepared])
    merged: list[str] = sorted(already)
    for p in prepared:
        try:
            closegit.advance(p, locks)
        except MetawsmError as exc:
            eng.store.drop_close_intents(ticket, [q.repo for q in prepared if q.repo not in merged],
                                         back_to="ready" if not merged else None, reason=f"close failed: {exc.message}")
            where = f"merged into {', '.join(merged)}; " if merged else "nothing was merged; "
            raise closegit.CloseError(f"close of {ticket}: {where}{p.repo} failed: {exc.message}",
                                      hint=f"fix it, then `metawsm close --ticket {ticket}` merges the rest") from exc
        merged.append(p.repo)
        result.actions.append(f"merged {p.branch} into {p.base_branch} ({p.strategy}) in "
                              f"{p.checkout or p.repo_root + ' (ref only)'}")
    intents = eng.store.close_intents(ticket)
    primary = next((i for i in intents if i.repo == repos[0][0]), intents[0])
    eng.store.mark_ticket_merged(run.run_id, ticket, strategy, primary.base_branch, primary.merge_sha)
    result.merged_sha = primary.merge_sha
    return {p.repo: p.ticket_sha for p in prepared}  # each a parent (or the tip) of the commit its base moved to


def _tidy(eng: Engine, run: Run, ticket: str, ws: WorkspaceStep, result: CloseResult,
          merged_tips: dict[str, str]) -> None:
    """After the merge: stop the ticket's agents and sessions, remove its worktrees and branch. A failure here
    is a warning — the merge happened and stays recorded. `merged_tips`: {repo: ticket commit} this close merged
    (a branch still there is deleted without asking git again whether its base contains it)."""
    from metawsm.engine.agentmoves import move

    for agent in eng.store.list_agents(run.run_id):
        if agent.ticket != ticket:
            continue
        move(eng, agent, "stopping", "stopped", reason="ticket closed")
        try:
            if agent.session and eng.runtime.kill(agent.session):
                result.actions.append(f"ended session {agent.session}")
        except MetawsmError as exc:
            result.warnings.append(f"could not kill session {agent.session}: {exc.message}")
    for name, repo in sorted(ws.repos.items()):
        tip = closegit.tips(repo.repo_root, ws.branch).get(ws.branch)
        # squash leaves no ancestry to check; otherwise the branch is deleted only when the base contains it
        base_ref = f"refs/heads/{repo.base_branch}"
        force = result.strategy == "squash" or (tip is not None and (
            tip == merged_tips.get(name) or closegit.is_ancestor(repo.repo_root, tip, base_ref)))
        try:
            if closegit.remove_worktree(repo.repo_root, repo.path):
                result.actions.append(f"removed worktree {repo.path}")
        except MetawsmError as exc:
            result.warnings.append(f"could not remove worktree {repo.path}: {exc.message}")
            continue
        if not eng.policy.close.delete_branch or tip is None:  # (no branch: nothing to delete)
            continue
        try:
            git.git(repo.repo_root, "branch", "-D" if force else "-d", ws.branch)
            result.actions.append(f"deleted branch {ws.branch}")
        except MetawsmError as exc:
            result.warnings.append(f"could not delete branch {ws.branch} (the merge happened): {exc.message}")


def _announce(eng: Engine, run: Run, ticket: str, result: CloseResult) -> None:
    """A closed forum thread records the close (and, with forum.docs_sync, requests a docs sync)."""
    body = (f"Merged {result.branch} into {result.base_branch} ({result.strategy}) at "
            f"{(result.merged_sha or '')[:12]}; run {run.run_id}.")
    thread = eng.forum.open_thread(ticket, f"{ticket} closed", body, run_id=run.run_id, actor_type="system",
                                   actor_name="metawsm", idempotency_key=f"close:{run.run_id}:{ticket}")
    if thread.state != "closed":
        eng.forum.close(thread.thread_id, actor_type="system", actor_name="metawsm")
