"""Evaluate the close gate for one ticket of one run.

Checks (policy close.required_checks): clean_tree, completion (every agent signalled for its current
attempt), validation (the latest validation passed, for the HEAD sha or a given sha), forbidden_files
(no changed path matches close.forbidden_file_patterns), and {name, run} commands; plus `review` (every
reviewer approved the judged sha, gate/review.py) for a ticket with reviewers, and `policy_change`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metawsm.errors import MetawsmError, NotFoundError
from metawsm.gate import review, trust
from metawsm.gate.context import CHECKS_AGENT
from metawsm.gate.patterns import forbidden_match
from metawsm.plan.steps import WorkspaceStep, typed
from metawsm.runtime import git, proc

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine
    from metawsm.state.models import Run


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one gate check: passed or not, why, and what to do."""

    name: str
    passed: bool
    reason: str
    details: tuple[str, ...] = ()
    fix: str | None = None

    def summary(self) -> str:
        return f"{self.name}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason, "details": list(self.details),
                "fix": self.fix}


@dataclass(frozen=True)
class GateResult:
    """Every check of one ticket's gate at one sha."""

    run_id: str
    ticket: str
    sha: str | None
    checks: tuple[CheckResult, ...] = field(default=())
    # the judging policy the checks used (the base branch's): callers judging more need not read it again
    policy: Policy | None = field(default=None, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ticket": self.ticket, "sha": self.sha, "passed": self.passed,
                "checks": [c.to_json() for c in self.checks]}


def workspace_spec(eng: Engine, run_id: str, ticket: str) -> WorkspaceStep:
    """The recorded workspace of ``ticket`` in run ``run_id`` (its worktrees, branch and base branches)."""
    try:
        step = eng.store.get_step(run_id, f"workspace:{ticket}")
    except NotFoundError as exc:
        raise NotFoundError(f"ticket {ticket} is not part of run {run_id}") from exc
    return typed(step, WorkspaceStep)


def _clean_tree(ws: WorkspaceStep, status: dict[str, list[str]]) -> CheckResult:
    dirty: list[str] = []
    for name, repo in sorted(ws.repos.items()):
        try:
            status[repo.path] = git.is_dirty(repo.path)
            dirty += [f"{name}:{p}" if len(ws.repos) > 1 else p for p in status[repo.path]]
        except MetawsmError as exc:
            return CheckResult("clean_tree", False, f"cannot read worktree {repo.path}: {exc.message}")
    if dirty:
        shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        return CheckResult("clean_tree", False, f"uncommitted or untracked files: {shown}", tuple(dirty),
                           fix=f"commit or remove them in {ws.path}")
    return CheckResult("clean_tree", True, "worktree is clean")


def _completion(eng: Engine, run_id: str, ticket: str) -> CheckResult:
    missing = []
    agents = [a for a in eng.store.list_agents(run_id) if a.ticket == ticket]
    for agent in agents:
        state = eng.forum.control_state(run_id, eng.agent_key(ticket, agent.name), agent.attempt)
        if agent.attempt < 1 or state.completion is None:
            missing.append(f"{agent.name} (attempt {agent.attempt})")
    if missing:
        return CheckResult("completion", False, "no completion signal from " + ", ".join(missing), tuple(missing),
                           fix="wait for the agents, or `metawsm signal completion` from their sessions")
    return CheckResult("completion", True, f"{len(agents)} agent(s) signalled completion")


def latest_validation(eng: Engine, run_id: str, ticket: str) -> dict[str, Any] | None:
    found = validations(eng, run_id, ticket)
    return max(found, key=lambda v: v["sequence"]) if found else None


def validations(eng: Engine, run_id: str, ticket: str) -> list[dict[str, Any]]:
    """The latest validation of each signaller of the ticket (the check step, each agent), with `by`."""
    found: list[dict[str, Any]] = []
    keys = [eng.agent_key(ticket, CHECKS_AGENT)]
    attempts: dict[str, int | None] = {keys[0]: None}
    for agent in eng.store.list_agents(run_id):
        if agent.ticket == ticket:
            key = eng.agent_key(ticket, agent.name)
            keys.append(key)
            attempts[key] = agent.attempt
    for key in keys:
        attempt = attempts[key] if attempts[key] is not None else eng.forum.latest_attempt(run_id, key)
        if not attempt:
            continue
        validation = eng.forum.control_state(run_id, key, attempt).validation
        if validation:
            found.append(dict(validation, by=key))
    return found


def _validation(eng: Engine, run_id: str, ticket: str, sha: str, policy: Policy) -> CheckResult:
    fix = f"re-run the checks: `metawsm apply` (or `metawsm gate --ticket {ticket}` to see why)"
    trusted, ignored = [], []
    for v in sorted(validations(eng, run_id, ticket), key=lambda v: v["sequence"]):
        ok, who = trust.validation_source(eng, run_id, ticket, v, policy)
        (trusted if ok else ignored).append(dict(v, who=who))
    notes = tuple(f"not trusted: {v['status']} for {str(v.get('sha'))[:12]} from {v['who']} (#{v['sequence']})"
                  for v in ignored)
    latest = trusted[-1] if trusted else None
    if latest is None:
        why = "no validation recorded" if not ignored else (
            "no trusted validation: only signals typed by hand (" + ", ".join(v["who"] for v in ignored) + ")")
        return CheckResult("validation", False, why, notes, fix=fix if not ignored else fix + TRUST_HINT)
    if latest["status"] != "passed":
        return CheckResult("validation", False, f"latest validation failed (by {latest['by']})", notes, fix=fix)
    if (latest.get("sha") or "") != sha:
        return CheckResult("validation", False,
                           f"validation was for {str(latest.get('sha'))[:12]}, not for {sha[:12]}", notes, fix=fix)
    return CheckResult("validation", True, f"passed for {sha[:12]} ({latest['who']})", notes)


TRUST_HINT = ("; a validation passes the gate only from metawsm's check step (or, when the policy sets "
              "close.manual_validation.allowed, from an actor in close.manual_validation.by)")


def _policy_change(changed: list[str], base: str) -> CheckResult:
    return CheckResult("policy_change", False, f"the branch changes what judges it ({', '.join(changed[:10])}); "
                       f"the gate uses the versions on {base}, and only a person can accept this change",
                       tuple(changed), fix="review the change and merge the branch by hand (git merge), or drop "
                                           "these files from the branch")


def _forbidden(ws: WorkspaceStep, patterns: tuple[str, ...], status: dict[str, list[str]]) -> CheckResult:
    hits: list[str] = []
    for name, repo in sorted(ws.repos.items()):
        try:  # a worktree clean_tree just found clean needs no second walk (git.changed_files)
            changed = git.changed_files(repo.path, repo.base_branch, clean=status.get(repo.path) == [])
        except MetawsmError as exc:
            return CheckResult("forbidden_files", False, f"cannot list changes in {repo.path}: {exc.message}")
        for path in changed:
            if forbidden_match(path, patterns):
                hits.append(path if len(ws.repos) == 1 else f"{name}:{path}")
    if hits:
        return CheckResult("forbidden_files", False, "forbidden files changed: " + ", ".join(hits[:10]),
                           tuple(hits), fix="remove them from the branch (git rm --cached, then commit)")
    return CheckResult("forbidden_files", True, "no forbidden files changed")


def _command(name: str, command: str, cwd: str) -> CheckResult:
    try:
        result = proc.run_shell(command, cwd=cwd, check=False, timeout=600)
    except MetawsmError as exc:
        return CheckResult(name, False, exc.message)
    if result.code == 0:
        return CheckResult(name, True, f"`{command}` passed")
    last = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    return CheckResult(name, False, f"`{command}` exited with {result.code}: {last}")


def evaluate(eng: Engine, run: Run, ticket: str, *, sha: str | None = None) -> GateResult:
    """Every required check for `ticket`; `sha` (a pushed commit) replaces the worktree's HEAD."""
    ws = workspace_spec(eng, run.run_id, ticket)
    primary = ws.primary
    try:
        target = sha or git.head_sha(primary.path)
    except MetawsmError as exc:
        return GateResult(run.run_id, ticket, None, (CheckResult("workspace", False, exc.message),))
    policy = trust.judging_policy(eng, primary.path, primary.base_branch)
    results: list[CheckResult] = []
    status: dict[str, list[str]] = {}  # worktree path -> what `git status` listed, during this evaluation
    for check in policy.close.required_checks:
        if check.run is not None:
            status.clear()  # a command may change the worktree
            results.append(_command(check.name, check.run, primary.path))
        elif check.name == "clean_tree":
            results.append(_clean_tree(ws, status))
        elif check.name == "completion":
            results.append(_completion(eng, run.run_id, ticket))
        elif check.name == "validation":
            results.append(_validation(eng, run.run_id, ticket, target, policy))
        elif check.name == "forbidden_files":
            results.append(_forbidden(ws, policy.close.forbidden_file_patterns, status))
    verdict = review.review_check(eng, run.run_id, ticket, target, policy)
    if verdict is not None:
        results.append(verdict)
    try:
        changed = trust.judging_changes(primary.path, primary.base_branch, target)
    except MetawsmError:
        changed = []
    if changed:
        results.append(_policy_change(changed, primary.base_branch))
    return GateResult(run.run_id, ticket, target, tuple(results), policy)
