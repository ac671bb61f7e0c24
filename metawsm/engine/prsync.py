"""`metawsm pr --sync`: what became of the pull requests of `in_review` tickets.

For each `in_review` ticket, `gh pr view BRANCH --json state,mergedAt,url` (gh's documented JSON fields) in the
ticket's primary repository says what the forge did:
- MERGED: the ticket becomes `merged` (recorded with strategy `pr` and the pushed branch tip), then the same tidy
  as a merge close: its agents stopped and sessions ended, worktrees removed, branch deleted (policy
  close.delete_branch), a closed forum thread records it, and the run closes once every ticket is settled;
- CLOSED (unmerged), or no pull request for the branch any more: back to `ready`, the reason saying so;
- OPEN: nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.engine.locking import locked
from metawsm.errors import ExternalError, MetawsmError
from metawsm.runtime import proc

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run


@dataclass
class SyncResult:
    ticket: str
    run_id: str
    branch: str
    url: str
    pr_state: str  # MERGED, OPEN, CLOSED, or NONE (no pull request for the branch)
    merged_at: str | None
    status: str  # the ticket's state afterwards
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def in_review(eng: Engine, ticket: str | None = None) -> list[tuple[Run, str]]:
    """(run, ticket) of every `in_review` ticket (or only `ticket`), oldest first."""
    if not eng.has_state():
        return []
    rows = eng.store.list_tickets([ticket] if ticket else None, statuses=("in_review",))
    out = []
    for row in rows:
        if row.run_id:
            try:
                out.append((eng.store.get_run(row.run_id), row.ticket))
            except MetawsmError:  # a forgotten run: nothing to sync against
                continue
    return out


def pr_state(root: str, branch: str) -> dict[str, Any] | None:
    """gh's {state, mergedAt, url} for the branch's pull request, or None when there is none."""
    from metawsm.engine.publish import _gh

    found = _gh(["pr", "view", branch, "--json", "state,mergedAt,url"], root)
    if found.code != 0:
        if "no pull requests found" in found.stderr.lower():
            return None
        raise ExternalError(f"gh pr view {branch} failed (exit {found.code}): "
                            f"{proc.tail(found.stderr.strip(), lines=4)}",
                            hint="is `gh` logged in (`gh auth status`) and is the remote a GitHub repository?")
    try:
        data = json.loads(found.stdout)
    except ValueError as exc:
        raise ExternalError(f"gh pr view {branch}: unreadable output: {found.stdout[:200]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        raise ExternalError(f"gh pr view {branch}: no state in {found.stdout[:200]!r}")
    return data


@locked("pr --sync")
def sync_ticket(eng: Engine, run: Run, ticket: str) -> SyncResult:
    """Ask gh about `ticket`'s pull request and move the ticket accordingly (under the run's lease)."""
    from metawsm.engine.publish import _repos
    from metawsm.engine.tickets import walk

    branch, repos = _repos(eng, run, ticket)
    data = pr_state(repos[0][1], branch)
    state = str(data["state"]).upper() if data else "NONE"
    url = str(data.get("url") or "") if data else ""
    result = SyncResult(ticket, run.run_id, branch, url, state, (data or {}).get("mergedAt") or None, "in_review")
    current = eng.store.get_ticket(ticket)
    if current is None or current.status != "in_review":  # moved meanwhile (abandoned, reopened, …)
        result.status = current.status if current else "open"
        return result
    if state == "MERGED":
        _merged(eng, run, ticket, result)
    elif state in ("CLOSED", "NONE"):
        why = f"pull request closed unmerged: {url}" if state == "CLOSED" else f"no pull request for {branch} any more"
        walk(eng, ticket, "ready", why, run=run)
        result.status = "ready"
        result.actions.append(f"{why}; the ticket is ready again (`metawsm pr` opens a new one)")
    return result


def _merged(eng: Engine, run: Run, ticket: str, result: SyncResult) -> None:
    from metawsm.engine import closegit
    from metawsm.engine.close import CloseResult, _announce, _tidy
    from metawsm.engine.tickets import close_run_if_done, drop_from_graph
    from metawsm.gate.evaluate import workspace_spec

    ws = workspace_spec(eng, run.run_id, ticket)
    repos = ws.repos_in_order()
    tips = {name: tip for name, r in repos if (tip := closegit.tips(r.repo_root, ws.branch).get(ws.branch))}
    sha = tips.get(repos[0][0], "")
    eng.store.mark_ticket_merged(run.run_id, ticket, "pr", repos[0][1].base_branch, sha)
    close = CloseResult(run.run_id, ticket, False, "pull request", ws.branch, repos[0][1].base_branch,
                        merged_sha=sha)
    # the forge merged the branch: its local tip is deleted without asking the local base whether it contains it
    _tidy(eng, run, ticket, ws, close, tips)
    _announce(eng, run, ticket, close)
    close_run_if_done(eng, drop_from_graph(eng, eng.store.get_run(run.run_id), ticket))
    result.status = "merged"
    result.actions += [f"pull request merged{' at ' + result.merged_at if result.merged_at else ''}: {result.url}",
                       *close.actions]
    result.warnings += close.warnings
