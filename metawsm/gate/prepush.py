"""The pre-push hook: a ticket branch is pushed only when its close gate passes at the pushed sha.

git gives one line per ref on stdin: `<local ref> <local sha> <remote ref> <remote sha>`. A ref is a
ticket branch when it is `refs/heads/<workspace.branch_prefix><TICKET>` (local or remote side); with an
empty branch_prefix only names that have a `tickets/<TICKET>.yaml` count. Deletions (all-zero local sha)
and every other ref pass without importing anything heavy: the branch prefix comes from the policy cache
(see hookrun). For a ticket ref the gate's reader opens state.db and forum.db (plain sqlite3, read-only; no
state store, forum service or policy models) and the ticket's run is found:

* the newest run of the ticket that is not closed or stopped, else the newest run of the ticket at all;
* no run at all: refused — a ticket branch with no run cannot have passed validation (fix: `metawsm apply`).

The gate (`metawsm.gate.evaluate.judge`, the rules `metawsm close` judges by) is evaluated with
`sha=<pushed sha>`: validation must be recorded for exactly that commit, the ticket's worktree must be clean,
every agent must have signalled completion, and no forbidden file may be changed — at the worktree's HEAD and
in the pushed commit. The judging policy is the base branch's; its values come from the hooks cache when
it is the checkout's file, and are parsed for real otherwise.

Under the pre-commit framework the ref comes from PRE_COMMIT_LOCAL_BRANCH / PRE_COMMIT_REMOTE_BRANCH /
PRE_COMMIT_TO_REF instead of stdin.
"""

# os.path, not pathlib: these modules are the hooks' fast path, and pathlib is an import to avoid there.
# ruff: noqa: PTH112, PTH113, PTH118, PTH120, PTH123

from __future__ import annotations

import os

from metawsm.gate.hookrun import (
    CACHE_FORMAT,
    HookError,
    _spawn,
    _write_cache,
    main_root,
    no_git_env,
    policy_facts,
    run_git,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's fast path
if TYPE_CHECKING:
    from typing import IO, Any

    from metawsm.config.models import Policy
    from metawsm.gate.facts import Reader
    from metawsm.gate.rules import CheckResult, Judging

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
    # sqlite3 here only: the fast path (no ticket branch pushed) avoids it. No state store, forum service or
    # policy models: the gate's own reader and rules (gate/facts.py, gate/rules.py), as `metawsm close` uses.
    from metawsm.errors import MetawsmError
    from metawsm.gate.facts import FactsError, Reader

    state = os.path.join(root, ".metawsm", "state")
    reader = Reader(state, migrate=lambda: _migrate(state), catch_up=lambda: _catch_up(root))
    refusals = []
    try:
        for ticket, sha, ref in targets:
            failed, run_id = gate_failures(reader, root, ticket, sha)
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
    except FactsError as exc:
        raise HookError(str(exc)) from exc
    finally:
        reader.close()
    return refusals


def find_run(reader: Reader, ticket: str) -> str | None:
    """The ticket's newest run that is not closed or stopped, else its newest run, else None."""
    if not reader.has_state():
        return None  # no state.db yet: never applied (and a read must not create it)
    runs = reader.runs_of(ticket)  # newest first
    live = [run_id for run_id, status in runs if status not in ("closed", "stopped")]
    return (live or [run_id for run_id, _ in runs])[0] if runs else None


def gate_failures(reader: Reader, root: str, ticket: str, sha: str) -> tuple[list[CheckResult], str | None]:
    from metawsm.errors import NotFoundError
    from metawsm.gate import rules
    from metawsm.gate.evaluate import judge
    from metawsm.gate.gitfacts import GitFailed, Worktrees

    run_id = find_run(reader, ticket)
    if run_id is None:
        return [rules.no_run(ticket)], None
    facts = reader.ticket(run_id, ticket)
    if not facts.has_workspace:
        raise NotFoundError(f"ticket {ticket} is not part of run {run_id}")
    try:
        result = judge(facts, Worktrees(_git), lambda data: judging(root, data, facts.primary[3]), sha=sha)
    except GitFailed as exc:
        raise HookError(str(exc)) from exc
    return result.failed(), run_id


def _git(cwd: str, args: tuple[str, ...]) -> tuple[int, str, str]:
    code, out, err = _spawn(["git", "-C", cwd, *args], no_git_env())
    return code, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "replace")


def judging(root: str, data: bytes | None, base: str) -> tuple[None, Judging]:
    """The judging policy's values: the base branch's policy file `data` (None: it has none, so the project's
    policy applies). When it is the checkout's file, the hooks cache knows its values; another file's values
    are remembered by content once parsed (JUDGING_CACHE); only a file never seen is parsed for real (yaml,
    jsonschema, the policy models)."""
    from metawsm.gate.rules import Judging

    path = os.path.join(root, ".metawsm", "policy.yaml")
    before = _read(path)
    cached = policy_facts(root).get("policy")
    if cached and (data is None or data == before) and _read(path) == before:
        return None, Judging(cached)
    if data is None:
        return None, Judging(_parsed(root, data, base))
    cache = os.path.join(root, ".metawsm", "state", JUDGING_CACHE)
    entries = _judging_entries(cache)
    if data in entries:
        return None, Judging(entries[data])
    values = Judging(_parsed(root, data, base))
    from metawsm.gate.trust import parsed

    # an invalid file judges by the project's policy, which may change: only a parsed file's values are kept
    if parsed(data) is not None and os.path.isdir(os.path.dirname(cache)):
        kept = dict([*[(k, v) for k, v in entries.items() if k != data][-(JUDGING_KEEP - 1):],
                     (data, values.plain())])
        _write_cache(cache, {"format": CACHE_FORMAT, "version": _version(), "entries": kept})
    return None, values


JUDGING_CACHE = "judging-cache.marshal"  # base-branch policy file content -> its judging values (plain data)
JUDGING_KEEP = 8


def _judging_entries(path: str) -> dict[bytes, dict[str, Any]]:
    """The remembered judging values, for this metawsm version only (its defaults may differ); a cache that
    does not load is empty."""
    import marshal

    try:
        with open(path, "rb") as fh:
            cache = marshal.load(fh)
        if cache.get("format") == CACHE_FORMAT and cache.get("version") == _version():
            entries = cache.get("entries")
            return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError, EOFError, TypeError, AttributeError):
        pass
    return {}


def _version() -> str:
    from metawsm import __version__

    return __version__


def _parsed(root: str, data: bytes | None, base: str) -> Policy:
    """The policy `data` parses to (the project's when None or invalid), through the loader and the models."""
    from pathlib import Path

    from metawsm.config.loader import load_policy
    from metawsm.config.project import Project
    from metawsm.gate.trust import judging_policy

    return judging_policy(lambda: load_policy(Project(Path(root))), data, base)


def _migrate(state: str) -> None:
    from pathlib import Path

    from metawsm.state import StateStore

    StateStore(Path(state) / "state.db").close()


def _catch_up(root: str) -> None:
    from pathlib import Path

    from metawsm.config.project import Project
    from metawsm.forum import Forum

    forum = Forum.for_project(Project(Path(root)))
    try:
        forum.read(lambda conn: None)
    finally:
        forum.shutdown()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None
