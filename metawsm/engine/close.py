"""Close a ticket: re-check the gate, merge its branch into the base branch, record it, clean up.

The merge happens where the base branch is checked out (that tree must be clean), or in a temporary
worktree when it is checked out nowhere. A conflict aborts the merge and leaves everything as it was.
A dry run reports what would happen and changes nothing at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawsm.errors import GateRefused, MetawsmError
from metawsm.gate.evaluate import evaluate, workspace_fields
from metawsm.runtime import git
from metawsm.state.machines import can_transition

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

CLOSABLE_RUNS = ("complete", "closing")


@dataclass
class CloseResult:
    run_id: str
    ticket: str
    dry_run: bool
    strategy: str
    branch: str
    base_branch: str
    commits: list[str] = field(default_factory=list)
    merged_sha: str | None = None
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ticket_title(eng: Engine, ticket: str) -> str:
    import yaml

    try:
        data = yaml.safe_load((eng.project.tickets_dir / f"{ticket}.yaml").read_text(encoding="utf-8"))
        return str(data.get("title") or ticket)
    except (OSError, yaml.YAMLError, AttributeError):
        return ticket


def _merge_dir(repo_root: str, base: str) -> tuple[Path | None, bool]:
    """Where base is checked out (None: nowhere), and whether that tree is clean."""
    for wt in git.list_worktrees(repo_root):
        if wt.branch in (base, f"refs/heads/{base}"):
            return Path(wt.path), not git.is_dirty(wt.path)
    return None, True


def _merge(cwd: Path, strategy: str, branch: str, message: str) -> None:
    try:
        if strategy == "ff-only":
            git.git(cwd, "merge", "--ff-only", branch)
        elif strategy == "squash":
            git.git(cwd, "merge", "--squash", branch)
            git.git(cwd, "commit", "-q", "-m", message)
        else:
            git.git(cwd, "merge", "--no-ff", "-q", "-m", message, branch)
    except MetawsmError as exc:
        conflicted = git.git(cwd, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
        git.git(cwd, "merge", "--abort", check=False)
        git.git(cwd, "reset", "-q", "--merge", check=False)
        what = f"merge conflict in {', '.join(conflicted)}" if conflicted else exc.message
        raise MetawsmError(f"cannot merge {branch} ({strategy}): {what}; nothing was changed",
                           hint="merge the base branch into the ticket branch, re-run the checks "
                                "(`metawsm apply`), then close again") from exc


def close_ticket(eng: Engine, run: Run, ticket: str, *, dry_run: bool = False, from_step: bool = False) -> CloseResult:
    policy = eng.policy.close
    ws = workspace_fields(eng, run.run_id, ticket)
    (name, repo), *others = sorted(ws["repos"].items(), key=lambda kv: kv[0] != "self")
    result = CloseResult(run.run_id, ticket, dry_run, policy.merge, ws["branch"], repo["base_branch"])
    if ticket in eng.store.closed_tickets(run.run_id):
        result.actions.append("already closed")
        return result
    if not from_step and run.status not in CLOSABLE_RUNS:
        raise MetawsmError(f"run {run.run_id} is {run.status}; tickets are closed once it is complete",
                           hint=f"`metawsm status --run {run.run_id}` shows what it waits for")
    gate = evaluate(eng, run, ticket)
    if not gate.passed:
        raise GateRefused(f"close of {ticket} refused by the gate: "
                          + "; ".join(c.summary() for c in gate.failed()),
                          hint=f"`metawsm gate --ticket {ticket}` shows each check and its fix")
    repos = [(name, repo), *others]
    for repo_name, r in repos:
        result.commits += [f"{repo_name}: {c}" for c in git.unmerged_commits(r["repo_root"], ws["branch"],
                                                                               r["base_branch"])]
        where, clean = _merge_dir(r["repo_root"], r["base_branch"])
        if where is not None and not clean:
            raise MetawsmError(f"{r['base_branch']} is checked out in {where} with uncommitted changes; "
                               "close merges there", hint="commit or stash them, then close again")
        result.actions.append(f"{'would merge' if dry_run else 'merge'} {ws['branch']} into {r['base_branch']} "
                              f"({policy.merge}) in {where or 'a temporary worktree'}")
    if dry_run:
        return result
    title = ticket_title(eng, ticket)
    for repo_name, r in repos:
        sha = _merge_repo(eng, r, ws["branch"], f"Merge {ws['branch']} ({ticket}: {title})", policy.merge,
                          changelog=(ticket, title, run.run_id) if repo_name == name else None)
        if repo_name == name:
            result.merged_sha = sha
    _tidy(eng, run, ticket, ws, policy.delete_branch, policy.merge, result)
    eng.store.mark_ticket_closed(run.run_id, ticket, policy.merge, repo["base_branch"], result.merged_sha or "")
    _announce(eng, run, ticket, result)
    if not from_step:
        advance_run(eng, run)
    return result


def _merge_repo(eng: Engine, repo: dict[str, Any], branch: str, message: str, strategy: str,
                changelog: tuple[str, str, str] | None) -> str:
    base = repo["base_branch"]
    where, _ = _merge_dir(repo["repo_root"], base)
    temp = None
    if where is None:
        temp = eng.project.state_dir / "merge" / f"{branch.replace('/', '_')}-{int(time.time())}"
        temp.parent.mkdir(parents=True, exist_ok=True)
        git.git(repo["repo_root"], "worktree", "add", "-q", str(temp), base)
        where = temp
    try:
        _merge(where, strategy, branch, message)
        if changelog is not None:
            ticket, title, run_id = changelog
            log = where / "tickets" / f"{ticket}.changelog.md"
            log.parent.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            head = git.head_sha(where)[:12]
            new = not log.exists()
            with log.open("a", encoding="utf-8") as fh:
                if new:
                    fh.write(f"# {ticket} changelog\n\n")
                fh.write(f"- {stamp} closed by metawsm: merged {branch} into {base} ({strategy}, {head}) "
                         f"— run {run_id} — {title}\n")
            git.git(where, "add", str(log.relative_to(where)))
            git.git(where, "commit", "-q", "-m", f"{ticket}: closed by metawsm (changelog)")
        return git.head_sha(where)
    finally:
        if temp is not None:
            git.remove_worktree(repo["repo_root"], temp, force=True)


def _tidy(eng: Engine, run: Run, ticket: str, ws: dict[str, Any], delete_branch: bool, strategy: str,
          result: CloseResult) -> None:
    from metawsm.engine.kinds.agent import move

    for agent in eng.store.list_agents(run.run_id):
        if agent.ticket != ticket:
            continue
        move(eng, agent, "stopping", "stopped", reason="ticket closed")
        if agent.session and eng.tmux.kill_session(agent.session):
            result.actions.append(f"killed tmux session {agent.session}")
    for _name, repo in sorted(ws["repos"].items()):
        if git.remove_worktree(repo["repo_root"], repo["path"]):
            result.actions.append(f"removed worktree {repo['path']}")
        if delete_branch and git.delete_branch(repo["repo_root"], ws["branch"], force=strategy == "squash"):
            result.actions.append(f"deleted branch {ws['branch']}")


def _announce(eng: Engine, run: Run, ticket: str, result: CloseResult) -> None:
    """A closed forum thread records the close (and, with forum.docs_sync, requests a docs sync)."""
    body = (f"Merged {result.branch} into {result.base_branch} ({result.strategy}) at "
            f"{(result.merged_sha or '')[:12]}; run {run.run_id}.")
    thread = eng.forum.open_thread(ticket, f"{ticket} closed", body, run_id=run.run_id, actor_type="system",
                                   actor_name="metawsm", idempotency_key=f"close:{run.run_id}:{ticket}")
    eng.forum.close(thread.thread_id, actor_type="system", actor_name="metawsm")


def advance_run(eng: Engine, run: Run) -> None:
    import json

    from metawsm.plan.graph import StepGraph

    tickets = StepGraph.from_json(json.loads(run.graph_json)).tickets
    closed = eng.store.closed_tickets(run.run_id)
    run = eng.store.get_run(run.run_id)
    if run.status == "complete" and can_transition("run", "complete", "closing"):
        run = eng.store.transition_run(run.run_id, "closing", "closing tickets")
    if run.status == "closing" and all(t in closed for t in tickets):
        eng.store.transition_run(run.run_id, "closed", "every ticket closed")
