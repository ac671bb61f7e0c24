"""Evaluate the close gate for one ticket of one run.

Checks (policy close.required_checks): clean_tree, completion (every agent signalled for its current
attempt), validation (the latest validation passed, for the HEAD sha or a given sha), forbidden_files
(no changed path matches close.forbidden_file_patterns), and {name, run} commands; plus `review` (every
reviewer approved the judged sha, gate/review.py) for a ticket with reviewers, and `policy_change`.

One evaluation, two callers: `evaluate(eng, …)` (close, gate, status, the daemon) and the pre-push hook both
read the facts with `gate/facts.py` and `gate/gitfacts.py` and judge them with :func:`judge` and the rules
of `gate/rules.py`. Import-light at the top (the hook imports this module); the engine's pieces are imported
by `evaluate` itself.
"""

from __future__ import annotations

from metawsm.errors import MetawsmError, NotFoundError, StateError
from metawsm.gate import rules
from metawsm.gate.facts import FactsError, Reader, TicketFacts
from metawsm.gate.gitfacts import POLICY_FILE, GitFailed, Worktrees
from metawsm.gate.rules import CheckResult, Judging

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine
    from metawsm.plan.steps import WorkspaceStep
    from metawsm.state.models import Run

__all__ = ["CheckResult", "GateResult", "evaluate", "judge", "latest_validation", "validations", "workspace_spec"]


class GateResult:
    """Every check of one ticket's gate at one sha; `policy`: the judging policy the checks used (the base
    branch's), as the caller's judging function returned it."""

    __slots__ = ("checks", "policy", "run_id", "sha", "ticket")

    def __init__(self, run_id: str, ticket: str, sha: str | None, checks: tuple[CheckResult, ...] = (),
                 policy: Any = None) -> None:
        self.run_id, self.ticket, self.sha, self.checks, self.policy = run_id, ticket, sha, tuple(checks), policy

    def __repr__(self) -> str:
        return f"GateResult(run_id={self.run_id!r}, ticket={self.ticket!r}, sha={self.sha!r}, checks={self.checks!r})"

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ticket": self.ticket, "sha": self.sha, "passed": self.passed,
                "checks": [c.to_json() for c in self.checks]}


def judge(facts: TicketFacts, trees: Worktrees, judging: Callable[[bytes | None], tuple[Any, Judging]], *,
          sha: str | None = None) -> GateResult:
    """Every required check for the ticket of `facts`; `sha` (a pushed commit) replaces the worktree's HEAD
    and adds the check of the pushed commit's own files. `judging(policy file bytes on the base branch, or
    None) -> (policy, its values)`. GitFailed: a pushed commit whose changes git cannot list."""
    _name, primary, _root, base = facts.primary
    code, text, _ = trees.run(primary, ("show", f"{base}:{POLICY_FILE}"))
    policy, values = judging(text.encode("utf-8", "surrogateescape") if code == 0 else None)
    names = values.names()
    if sha is None or "clean_tree" in names:
        try:  # HEAD, from the status clean_tree reads anyway (one process)
            trees.status(primary) if "clean_tree" in names else trees.head(primary)
        except GitFailed:  # clean_tree asks runtime.git again, for its message
            trees.heads.pop(primary, None)
    head = trees.heads.get(primary)
    if sha is None and head is None:
        from metawsm.runtime import git  # its message (the worktree is gone, or has no commit)

        try:
            head = trees.heads[primary] = git.head_sha(primary)
        except MetawsmError as exc:
            return GateResult(facts.run_id, facts.ticket, None, (CheckResult("workspace", False, exc.message),))
    target = sha or str(head)
    results: list[CheckResult] = []
    for name, command in values.required:
        if command is not None:
            trees.forget()  # a command may change the worktree
            results.append(_command(name, command, primary))
        elif name == "clean_tree":
            results.append(rules.clean_tree(facts.repos, _listed(trees, facts, "status"), facts.ws_path))
        elif name == "completion":
            results.append(rules.completion(facts))
        elif name == "validation":
            results.append(rules.validation(facts, target, values))
        elif name == "forbidden_files":
            results.append(rules.forbidden(facts.repos, _listed(trees, facts, "changed"), values.forbidden))
    verdict = rules.review(facts, target, values)
    if verdict is not None:
        results.append(verdict)
    changed = trees.judging_changes(primary, base, target)
    if changed:
        results.append(rules.policy_change(changed, base))
    if sha is not None and "forbidden_files" in names and not any(
            c.name == "forbidden_files" and not c.passed for c in results):
        pushed = trees.pushed_files(primary, base, sha)
        if pushed is None:
            args = ("diff", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT", f"{base}...{sha}")
            code, _, err = trees.run(primary, args)
            raise GitFailed(f"`git {' '.join(args)}` failed (exit {code}): {err.strip()}")
        extra = rules.pushed_forbidden(pushed, values.forbidden)
        if extra is not None:
            results.append(extra)
    return GateResult(facts.run_id, facts.ticket, target, tuple(results), policy)


def _listed(trees: Worktrees, facts: TicketFacts, what: str) -> dict[str, list[str] | str]:
    """Per worktree (in name order, up to the first that fails): its dirty paths (`status`) or the files its
    branch changes (`changed`), or the message of the failure."""
    out: dict[str, list[str] | str] = {}
    for _name, path, _root, base in facts.repos:
        try:
            if what == "changed":
                out[path] = trees.changed(path, base)
            elif path in trees.dirty:
                out[path] = trees.dirty[path]
            else:
                out[path] = trees.status(path)
        except GitFailed:
            from metawsm.runtime import git  # git failed: ask again for the message users know

            try:
                out[path] = trees.dirty[path] = git.is_dirty(path)
            except MetawsmError as exc:
                out[path] = exc.message
        except MetawsmError as exc:
            out[path] = exc.message
        if isinstance(out[path], str):
            break
    for _name, path, _root, _base in facts.repos:
        out.setdefault(path, [])  # after a failure: never read (the rule stops at the failure)
    return out


def _command(name: str, command: str, cwd: str) -> CheckResult:
    from metawsm.runtime import proc

    try:
        result = proc.run_shell(command, cwd=cwd, check=False, timeout=600)
    except MetawsmError as exc:
        return CheckResult(name, False, exc.message)
    if result.code == 0:
        return CheckResult(name, True, f"`{command}` passed")
    last = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    return CheckResult(name, False, f"`{command}` exited with {result.code}: {last}")


# -- the engine's side: close, gate, status, the daemon ---------------------------------------------------
def reader(eng: Engine) -> Reader:
    """The gate's reader over the engine's project (the store migrates and the forum catches up on demand)."""
    def migrate() -> None:
        eng.store  # noqa: B018 (opening the store migrates state.db)

    def catch_up() -> None:
        eng.forum.read(lambda conn: None)

    return Reader(str(eng.project.state_dir), migrate=migrate, catch_up=catch_up)


def ticket_facts(eng: Engine, run_id: str, ticket: str) -> TicketFacts:
    facts_reader = reader(eng)
    try:
        return facts_reader.ticket(run_id, ticket)
    except FactsError as exc:
        raise StateError(str(exc)) from exc
    finally:
        facts_reader.close()


def git_runner(cwd: str, args: tuple[str, ...]) -> tuple[int, str, str]:
    """`runtime.git` as the gate's git runner (one subprocess wrapper, with its timeout)."""
    from metawsm.runtime import git

    try:
        result = git.git(cwd, *args, check=False)
    except MetawsmError as exc:
        return -1, "", exc.message
    return result.code, result.stdout, result.stderr


def evaluate(eng: Engine, run: Run, ticket: str, *, sha: str | None = None) -> GateResult:
    """Every required check for `ticket`; `sha` (a pushed commit) replaces the worktree's HEAD."""
    from metawsm.gate.trust import judging_policy

    facts = ticket_facts(eng, run.run_id, ticket)
    if not facts.has_workspace:
        raise NotFoundError(f"ticket {ticket} is not part of run {run.run_id}")
    base = facts.primary[3]

    def judging(data: bytes | None) -> tuple[Policy, Judging]:
        policy = judging_policy(lambda: eng.policy, data, base)
        return policy, Judging(policy)

    try:
        return judge(facts, Worktrees(git_runner), judging, sha=sha)
    except GitFailed as exc:
        from metawsm.errors import ExternalError

        raise ExternalError(str(exc)) from exc


def workspace_spec(eng: Engine, run_id: str, ticket: str) -> WorkspaceStep:
    """The recorded workspace of ``ticket`` in run ``run_id`` (its worktrees, branch and base branches)."""
    from metawsm.plan.steps import WorkspaceStep, typed

    try:
        step = eng.store.get_step(run_id, f"workspace:{ticket}")
    except NotFoundError as exc:
        raise NotFoundError(f"ticket {ticket} is not part of run {run_id}") from exc
    return typed(step, WorkspaceStep)


def validations(eng: Engine, run_id: str, ticket: str) -> list[dict[str, Any]]:
    """The latest validation of each signaller of the ticket (the check step, each agent), with `by`."""
    return rules.validations(ticket_facts(eng, run_id, ticket))


def latest_validation(eng: Engine, run_id: str, ticket: str) -> dict[str, Any] | None:
    found = validations(eng, run_id, ticket)
    return max(found, key=lambda v: v["sequence"]) if found else None
