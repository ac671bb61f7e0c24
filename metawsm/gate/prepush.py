"""The pre-push hook: a ticket branch is pushed only when its close gate passes at the pushed sha.

git gives one line per ref on stdin: `<local ref> <local sha> <remote ref> <remote sha>`. A ref is a
ticket branch when it is `refs/heads/<workspace.branch_prefix><TICKET>` (local or remote side); with an
empty branch_prefix only names that have a `tickets/<TICKET>.yaml` count. Deletions (all-zero local sha)
and every other ref pass without importing anything heavy: the branch prefix comes from the policy cache
(see hookrun). For a ticket ref the engine is opened (sqlite, forum) and the ticket's run is found:

* the newest run of the ticket that is not closed or stopped, else the newest run of the ticket at all;
* no run at all: refused — a ticket branch with no run cannot have passed validation (fix: `metawsm apply`).

The gate (`metawsm.gate.evaluate`) is evaluated with `sha=<pushed sha>`: validation must be recorded for
exactly that commit, the ticket's worktree must be clean, every agent must have signalled completion, and
no forbidden file may be changed — at the worktree's HEAD and, when the pushed sha differs, at that sha.

Under the pre-commit framework the ref comes from PRE_COMMIT_LOCAL_BRANCH / PRE_COMMIT_REMOTE_BRANCH /
PRE_COMMIT_TO_REF instead of stdin.
"""

# os.path, not pathlib: these modules are the hooks' fast path, and pathlib is an import to avoid there.
# ruff: noqa: PTH113, PTH118, PTH123

from __future__ import annotations

import os

from metawsm.gate.hookrun import HookError, main_root, policy_facts, run_git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's fast path
if TYPE_CHECKING:
    from typing import IO

    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine
    from metawsm.gate.evaluate import CheckResult
    from metawsm.plan.steps import RepoWorktree
    from metawsm.state.models import Run

ZERO = "0" * 40
BYPASS = ("bypass (not recommended): git push --no-verify — `metawsm close` re-checks the gate before "
          "merging, so a bypassed problem still blocks the ticket")


def parse_updates(text: str) -> list[tuple[str, str, str, str]]:
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            updates.append((parts[0], parts[1], parts[2], parts[3]))
    return updates


def framework_updates(top: str) -> list[tuple[str, str, str, str]] | None:
    """The ref the pre-commit framework passes in its environment (None when not run by it)."""
    local = os.environ.get("PRE_COMMIT_LOCAL_BRANCH")
    remote = os.environ.get("PRE_COMMIT_REMOTE_BRANCH")
    if not (local or remote):
        return None
    sha = os.environ.get("PRE_COMMIT_TO_REF") or run_git(top, "rev-parse", "--verify", f"{local}^{{commit}}"
                                                          ).decode().strip()
    return [(local or "", sha, remote or "", os.environ.get("PRE_COMMIT_FROM_REF") or ZERO)]


def ticket_of(ref: str, prefix: str, root: str) -> str | None:
    if not ref.startswith("refs/heads/"):
        return None
    name = ref[len("refs/heads/"):]
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    ticket = name[len(prefix):]
    if not prefix and not any(os.path.isfile(os.path.join(root, "tickets", ticket + ext))
                              for ext in (".yaml", ".yml")):
        return None
    return ticket


def ticket_refs(root: str, updates: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str]]:
    """(ticket, pushed sha, ref as shown) for each pushed ticket branch; deletions are skipped."""
    if not updates:
        return []
    prefix = str(policy_facts(root)["branch_prefix"])  # cached: no yaml on the fast path
    found = []
    for local_ref, local_sha, remote_ref, _remote_sha in updates:
        if set(local_sha) == {"0"}:
            continue  # a deletion pushes no content
        ticket = ticket_of(local_ref, prefix, root) or ticket_of(remote_ref, prefix, root)
        if ticket is not None:
            found.append((ticket, local_sha, remote_ref or local_ref))
    return found


def run(top: str, args: list[str], stdin: IO[bytes]) -> tuple[int, str]:
    updates = framework_updates(top)
    if updates is None:
        updates = parse_updates(stdin.read().decode("utf-8", "replace"))
    root = main_root(top)
    targets = ticket_refs(root, updates)
    if not targets:
        return 0, ""
    refusals = check_tickets(root, targets)
    if not refusals:
        return 0, ""
    return 1, "\n\n".join([*refusals, BYPASS]) + "\n"


def check_tickets(root: str, targets: list[tuple[str, str, str]]) -> list[str]:
    """A refusal text per ticket ref whose gate fails at the pushed sha (empty: push accepted)."""
    # Heavy imports here only: the state store and the forum bring sqlite, which the fast path avoids.
    from pathlib import Path

    from metawsm.config.project import Project
    from metawsm.errors import MetawsmError
    from metawsm.gate.context import GateFacts

    try:
        eng = GateFacts.open(Project(Path(root)), seeded_policy(root))
    except MetawsmError as exc:
        raise HookError(f"cannot load the metawsm policy: {exc.render()}") from exc
    refusals = []
    try:
        for ticket, sha, ref in targets:
            failed, run_id = gate_failures(eng, ticket, sha)
            if failed:
                head = f"metawsm pre-push: refused {ref} (ticket {ticket}"
                head += f", run {run_id}" if run_id else ""
                lines = [f"{head}) at {sha[:12]}:"]
                for check in failed:
                    lines.append(f"  FAIL {check.name}: {check.reason}")
                    if check.fix:
                        lines.append(f"       fix: {check.fix}")
                lines.append(f"see every check: metawsm gate --ticket {ticket}")
                refusals.append("\n".join(lines))
    except MetawsmError as exc:
        raise HookError(exc.render()) from exc
    finally:
        eng.close()
    return refusals


def cached_policy(root: str) -> Policy | None:
    """The policy rebuilt from the hooks cache (no yaml, no jsonschema); None: let the engine load it."""
    from metawsm.config.models import Policy, build

    data = policy_facts(root).get("policy")
    if not data:
        return None
    return build(Policy, data)


def seeded_policy(root: str) -> Policy | None:
    """cached_policy(root), also recorded as the judging policy of the same file content: when the base
    branch's committed policy is the checkout's, the gate does not parse it again (no yaml, no jsonschema)."""
    path = os.path.join(root, ".metawsm", "policy.yaml")
    before = _read(path)
    policy = cached_policy(root)
    if policy is not None and before is not None and _read(path) == before:
        from metawsm.gate.trust import remember_policy

        remember_policy(before, policy)
    return policy


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def find_run(eng: Engine, ticket: str) -> Run | None:
    """The ticket's newest run that is not closed or stopped, else its newest run, else None."""
    if not eng.has_state():
        return None  # no state.db yet: never applied (and a read must not create it)
    runs = eng.store.list_runs(ticket=ticket)  # newest first
    live = [r for r in runs if r.status not in ("closed", "stopped")]
    return (live or runs)[0] if runs else None


def gate_failures(eng: Engine, ticket: str, sha: str) -> tuple[list[CheckResult], str | None]:
    from metawsm.gate.evaluate import CheckResult, evaluate, workspace_spec

    run = find_run(eng, ticket)
    if run is None:
        return [CheckResult("run", False, f"no metawsm run has ticket {ticket}, so this branch has never "
                                          "passed validation", fix=f"metawsm apply (a plan with {ticket})")], None
    result = evaluate(eng, run, ticket, sha=sha)
    failed = result.failed()
    repo = workspace_spec(eng, run.run_id, ticket).primary
    if result.policy is not None:
        policy = result.policy  # the base branch's, which evaluate read
    else:  # evaluate stopped before reading it (no worktree): read it here
        from metawsm.gate.trust import judging_policy

        policy = judging_policy(eng, repo.path, repo.base_branch)
    patterns = policy.close.forbidden_file_patterns
    names = [c.name for c in policy.close.required_checks]
    if "forbidden_files" in names and not any(c.name == "forbidden_files" for c in failed):
        extra = forbidden_at(repo, sha, patterns)
        if extra is not None:
            failed.append(extra)
    return failed, run.run_id


def forbidden_at(repo: RepoWorktree, sha: str, patterns: tuple[str, ...]) -> CheckResult | None:
    """The forbidden_files check for the pushed commit itself (evaluate checks the worktree's HEAD, which
    may differ: an older sha, or a file added and removed again): one `git diff BASE...SHA`."""
    from metawsm.gate.evaluate import CheckResult
    from metawsm.gate.precommit import forbidden_hits

    out = run_git(repo.path, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT",
                  f"{repo.base_branch}...{sha}")
    hits = forbidden_hits([p for p in out.decode("utf-8", "surrogateescape").split("\0") if p], list(patterns))
    if not hits:
        return None
    return CheckResult("forbidden_files", False, "forbidden files in the pushed commit: "
                       + ", ".join(p for p, _ in hits[:10]), tuple(p for p, _ in hits),
                       fix="remove them from the branch (git rm --cached, then commit)")
