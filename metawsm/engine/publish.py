"""`metawsm push` and `metawsm pr`: a ticket's branch to its remote, and a pull request for it through `gh`.

Push first evaluates the close gate (as close does), then runs `git push REMOTE refs/heads/B:refs/heads/B` in every
repository of the ticket (never forced), so the pre-push hook (`metawsm hooks install`) judges the pushed sha
too; either refusal is a GateRefused.
`pr` pushes, then asks `gh pr view BRANCH --json …` whether a pull request exists for the branch (it is then
reported, never duplicated) and otherwise runs `gh pr create --head B --base BASE --title … --body-file -`
(title from the ticket, body from its goal, done criteria, the agents' completion summaries, the validation
and review results and the diffstat). The real `gh` needs a forge; the tests use a fake `gh` on PATH.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.errors import ExternalError, GateRefused, MetawsmError, NotFoundError
from metawsm.runtime import git, proc

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Run

GH_TIMEOUT = 120.0
PUSH_TIMEOUT = 300.0
HOOK_REFUSED = ("hook declined", "pre-push hook", "gate refused")


@dataclass
class PushResult:
    ticket: str
    run_id: str
    remote: str
    pushed: list[dict[str, str]] = field(default_factory=list)  # {repo, branch, sha, remote}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PrResult:
    ticket: str
    run_id: str
    branch: str
    base: str
    url: str
    number: int | None
    state: str
    created: bool  # False: the pull request existed and is only reported
    draft: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _repos(eng: Engine, run: Run, ticket: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(branch, [(repo name, repo root, base branch)]) of the ticket's workspace, the primary repo first."""
    from metawsm.engine.ticketdiff import workspace_of

    ws = workspace_of(eng.store, run, ticket)
    repos = [(name, r.repo_root, r.base_branch) for name, r in ws.repos_in_order()]
    if not ws.branch or not repos:
        raise NotFoundError(f"ticket {ticket} has no workspace recorded in run {run.run_id}",
                            hint=f"start it with `metawsm apply {run.plan_name}`")
    return ws.branch, repos


def push(eng: Engine, run: Run, ticket: str, *, remote: str | None = None, dry_run: bool = False) -> PushResult:
    """Push the ticket branch of every repository of `ticket` to `remote` (policy close.remote by default)."""
    from metawsm.gate.evaluate import evaluate

    remote = remote or eng.policy.close.remote
    branch, repos = _repos(eng, run, ticket)
    gate = evaluate(eng, run, ticket)  # as close does: the hook may be missing or skipped with --no-verify
    if not gate.passed:
        failed = gate.failed()
        raise GateRefused(f"{ticket}: the close gate refused: " + "; ".join(c.summary() for c in failed),
                          hint=next((c.fix for c in failed if c.fix), None) or f"`metawsm gate --ticket {ticket}`")
    result = PushResult(ticket, run.run_id, remote)
    for name, root, _base in repos:
        if not git.branch_exists(root, branch):
            raise NotFoundError(f"{ticket}: branch {branch} does not exist in {root}",
                                hint="a merged ticket's branch is deleted; `metawsm status --ticket` says more")
        if git.git(root, "remote", "get-url", remote, check=False).code != 0:
            raise MetawsmError(f"{root}: no git remote named {remote!r}",
                               hint=f"add it (`git -C {root} remote add {remote} URL`) or set policy close.remote")
        sha = git.git(root, "rev-parse", f"refs/heads/{branch}").stdout.strip()
        if not dry_run:
            done = git.git(root, "push", "--porcelain", remote, f"refs/heads/{branch}:refs/heads/{branch}",
                           check=False, timeout=PUSH_TIMEOUT)
            if done.code != 0:
                text = (done.stderr + done.stdout).strip()
                if any(marker in text for marker in HOOK_REFUSED):
                    raise GateRefused(f"{ticket}: the pre-push gate refused {branch} at {sha[:12]}: "
                                      f"{proc.tail(text, lines=6)}", hint=f"`metawsm gate --ticket {ticket}` says why")
                raise ExternalError(f"{ticket}: git push {remote} {branch} failed in {root}: "
                                    f"{proc.tail(text, lines=6)}")
        result.pushed.append({"repo": name, "branch": branch, "sha": sha, "remote": remote})
    return result


def _gh(args: list[str], cwd: str, *, input: str | None = None) -> proc.Completed:
    exe = proc.which("gh")
    if exe is None:
        raise ExternalError("`gh` (the GitHub CLI) is not installed or not on PATH: metawsm pr opens pull "
                            "requests through it", hint="install it (https://cli.github.com) and run `gh auth "
                                                        "login`, or push with `metawsm push` and open the PR yourself")
    return proc.run([exe, *args], cwd=cwd, check=False, timeout=GH_TIMEOUT, input=input)


def existing_pr(root: str, branch: str) -> dict[str, Any] | None:
    """The pull request `gh` knows for `branch` ({url, number, state, isDraft}), or None."""
    found = _gh(["pr", "view", branch, "--json", "url,number,state,isDraft,baseRefName"], root)
    if found.code == 0:
        try:
            data = json.loads(found.stdout)
        except ValueError as exc:
            raise ExternalError(f"gh pr view {branch}: unreadable output: {found.stdout[:200]!r}") from exc
        return data if isinstance(data, dict) and data.get("url") else None
    if "no pull requests found" in found.stderr.lower():
        return None
    raise ExternalError(f"gh pr view {branch} failed (exit {found.code}): {proc.tail(found.stderr.strip(), lines=4)}",
                        hint="is `gh` logged in (`gh auth status`) and is the remote a GitHub repository?")


def pr(eng: Engine, run: Run, ticket: str, *, remote: str | None = None, draft: bool = False) -> PrResult:
    """Push `ticket`, then open its pull request (the primary repository's), or report the one that exists."""
    pushed = push(eng, run, ticket, remote=remote)
    branch, repos = _repos(eng, run, ticket)
    _name, root, base = repos[0]
    known = existing_pr(root, branch)
    if known is not None:
        found = PrResult(ticket, run.run_id, branch, str(known.get("baseRefName") or base), str(known["url"]),
                         _int(known.get("number")), str(known.get("state") or "OPEN"), False,
                         bool(known.get("isDraft")))
        if found.state == "OPEN":
            in_review(eng, run, ticket, found.url)
        return found
    title, body = pr_text(eng, run, ticket, pushed)
    args = ["pr", "create", "--head", branch, "--base", base, "--title", title, "--body-file", "-"]
    made = _gh([*args, "--draft"] if draft else args, root, input=body)
    if made.code != 0:
        raise ExternalError(f"gh pr create failed (exit {made.code}): {proc.tail(made.stderr.strip(), lines=4)}",
                            hint="is `gh` logged in (`gh auth status`)?")
    lines = [line.strip() for line in made.stdout.splitlines() if line.strip().startswith("http")]
    if not lines:
        raise ExternalError(f"gh pr create printed no URL: {made.stdout[:200]!r}")
    url = lines[-1]
    number = url.rstrip("/").rsplit("/", 1)[-1]
    in_review(eng, run, ticket, url)
    return PrResult(ticket, run.run_id, branch, base, url, int(number) if number.isdigit() else None, "OPEN", True,
                    draft)


def in_review(eng: Engine, run: Run, ticket: str, url: str) -> None:
    """The ticket's pull request is open: the ticket is `in_review` until `metawsm pr --sync` sees it settled."""
    from metawsm.engine.tickets import walk

    walk(eng, ticket, "in_review", f"pull request open: {url}", run=run)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pr_text(eng: Engine, run: Run, ticket: str, pushed: PushResult) -> tuple[str, str]:
    """(title, body) of the ticket's pull request."""
    from metawsm.engine.prbody import pr_body

    return pr_body(eng, run, ticket, pushed.pushed)
