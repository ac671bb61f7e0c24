"""The close gate's rules: pure functions from facts (gate/facts.py, gate/gitfacts.py, the judging policy's
values) to check results. `metawsm close`, `gate`, `status`, the daemon and the pre-push hook all judge with
these functions, through `gate.evaluate.judge`. Import-light (no dataclasses): the hook imports it.

The judging policy and what the gate trusts are described in gate/trust.py; the review check in gate/review.py.
"""

from __future__ import annotations

from metawsm.gate.facts import CHECKS_AGENT
from metawsm.gate.patterns import forbidden_match

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the hook's path
if TYPE_CHECKING:
    from typing import Any

    from metawsm.gate.facts import TicketFacts

SYSTEM_ACTOR = ("system", "metawsm")
TRUST_HINT = ("; a validation passes the gate only from metawsm's check step (or, when the policy sets "
              "close.manual_validation.allowed, from an actor in close.manual_validation.by)")
FORBIDDEN_FIX = "remove them from the branch (git rm --cached, then commit)"


class CheckResult:
    """The outcome of one gate check: passed or not, why, and what to do."""

    __slots__ = ("details", "fix", "name", "passed", "reason")

    def __init__(self, name: str, passed: bool, reason: str, details: tuple[str, ...] = (),
                 fix: str | None = None) -> None:
        self.name, self.passed, self.reason, self.details, self.fix = name, passed, reason, tuple(details), fix

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.passed, self.reason, self.details, self.fix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CheckResult) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"CheckResult(name={self.name!r}, passed={self.passed!r}, reason={self.reason!r}, "
                f"details={self.details!r}, fix={self.fix!r})")

    def summary(self) -> str:
        return f"{self.name}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason, "details": list(self.details),
                "fix": self.fix}


class Judging:
    """The judging policy's values the rules read (from a `Policy` or its plain-data form in the hooks cache)."""

    __slots__ = ("auto_iterate", "forbidden", "manual_allowed", "manual_by", "required", "reviewers")

    def __init__(self, policy: Any) -> None:
        close, review = _get(policy, "close"), _get(policy, "review", {})
        self.required = tuple((str(_get(c, "name")), _get(c, "run", None)) for c in _get(close, "required_checks"))
        self.forbidden = tuple(_get(close, "forbidden_file_patterns"))
        manual = _get(close, "manual_validation", {})
        self.manual_allowed, self.manual_by = bool(_get(manual, "allowed", False)), tuple(_get(manual, "by", ()))
        self.reviewers = tuple(_get(close, "reviewers", ()))
        self.auto_iterate = bool(_get(review, "auto_iterate", False))

    def names(self) -> list[str]:
        return [name for name, _ in self.required]

    def plain(self) -> dict[str, Any]:
        """These values in the policy's plain-data form (what `Judging(...)` reads back; marshal-able)."""
        return {"close": {"required_checks": [{"name": n, "run": r} for n, r in self.required],
                          "forbidden_file_patterns": list(self.forbidden),
                          "manual_validation": {"allowed": self.manual_allowed, "by": list(self.manual_by)},
                          "reviewers": list(self.reviewers)},
                "review": {"auto_iterate": self.auto_iterate}}


_MISSING = object()


def _get(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """A policy value, from a `Policy` or its plain-data form (where a key the cache predates takes the
    schema's default, as `config.models.build` gives it)."""
    if not isinstance(obj, dict):
        return getattr(obj, name)
    return obj[name] if default is _MISSING else obj.get(name, default)


# -- clean_tree and forbidden_files -------------------------------------------------------------------------
def clean_tree(repos: list[tuple[str, str, str, str]], dirty: dict[str, list[str] | str], ws_path: str
               ) -> CheckResult:
    """`dirty`: worktree path -> its uncommitted/untracked paths, or why it could not be read."""
    found: list[str] = []
    for name, path, _root, _base in repos:
        listed = dirty[path]
        if isinstance(listed, str):
            return CheckResult("clean_tree", False, f"cannot read worktree {path}: {listed}")
        found += [f"{name}:{p}" if len(repos) > 1 else p for p in listed]
    if found:
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        return CheckResult("clean_tree", False, f"uncommitted or untracked files: {shown}", tuple(found),
                           fix=f"commit or remove them in {ws_path}")
    return CheckResult("clean_tree", True, "worktree is clean")


def forbidden(repos: list[tuple[str, str, str, str]], changed: dict[str, list[str] | str],
              patterns: tuple[str, ...]) -> CheckResult:
    """`changed`: worktree path -> the files its branch changes, or why they could not be listed."""
    hits: list[str] = []
    for name, path, _root, _base in repos:
        listed = changed[path]
        if isinstance(listed, str):
            return CheckResult("forbidden_files", False, f"cannot list changes in {path}: {listed}")
        hits += [p if len(repos) == 1 else f"{name}:{p}" for p in listed if forbidden_match(p, patterns)]
    if hits:
        return CheckResult("forbidden_files", False, "forbidden files changed: " + ", ".join(hits[:10]),
                           tuple(hits), fix=FORBIDDEN_FIX)
    return CheckResult("forbidden_files", True, "no forbidden files changed")


def pushed_forbidden(paths: list[str], patterns: tuple[str, ...]) -> CheckResult | None:
    """forbidden_files for a pushed commit itself (the worktree's HEAD may differ: an older sha, or a file
    added and removed again); None when it carries none."""
    hits = [p for p in paths if forbidden_match(p, patterns)]
    if not hits:
        return None
    return CheckResult("forbidden_files", False, "forbidden files in the pushed commit: " + ", ".join(hits[:10]),
                       tuple(hits), fix=FORBIDDEN_FIX)


# -- completion and validation ------------------------------------------------------------------------------
def completion(f: TicketFacts) -> CheckResult:
    missing = []
    for name, attempt in f.agents:
        state = f.state(name, attempt)
        if attempt < 1 or state is None or state.completion is None:
            missing.append(f"{name} (attempt {attempt})")
    if missing:
        return CheckResult("completion", False, "no completion signal from " + ", ".join(missing), tuple(missing),
                           fix="wait for the agents, or `metawsm signal completion` from their sessions")
    return CheckResult("completion", True, f"{len(f.agents)} agent(s) signalled completion")


def validations(f: TicketFacts) -> list[dict[str, Any]]:
    """The latest validation of each signaller of the ticket (the check step, each agent), with `by`."""
    found: list[dict[str, Any]] = []
    for name, attempt in [(CHECKS_AGENT, f.checks_attempt), *f.agents]:
        state = f.state(name, attempt) if attempt else None
        if state is not None and state.validation:
            found.append(dict(state.validation, by=f.key(name)))
    return found


def validation_source(f: TicketFacts, v: dict[str, Any], policy: Judging) -> tuple[bool, str]:
    """(trusted, who) for a recorded validation (see gate/trust.py)."""
    actor = f.actors.get(int(v["sequence"]))
    if actor is None:
        return False, "an unknown signal"
    actor_type, actor_name = actor
    if actor == SYSTEM_ACTOR and v["by"] == f.key(CHECKS_AGENT):
        return True, "metawsm's check step"
    if actor_type == "agent":
        for name in reviewer_names(f, policy.reviewers):
            if actor_name == f.key(name):
                return True, f"reviewer {name}"
    if policy.manual_allowed and (actor_name in policy.manual_by or v["by"] in policy.manual_by):
        return True, f"{actor_type}:{actor_name} (manual validation allowed by close.manual_validation)"
    return False, f"{actor_type}:{actor_name}"


def validation(f: TicketFacts, sha: str, policy: Judging) -> CheckResult:
    fix = f"re-run the checks: `metawsm apply` (or `metawsm gate --ticket {f.ticket}` to see why)"
    trusted: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    for v in sorted(validations(f), key=lambda v: v["sequence"]):
        ok, who = validation_source(f, v, policy)
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


# -- review -------------------------------------------------------------------------------------------------
class Verdict:
    """A reviewer's verdict for its current attempt (status None: none yet)."""

    __slots__ = ("agent", "attempt", "note", "sequence", "sha", "status")

    def __init__(self, agent: str, attempt: int, status: str | None, note: str, sha: str | None,
                 sequence: int | None) -> None:
        self.agent, self.attempt, self.status, self.note, self.sha, self.sequence = (
            agent, attempt, status, note, sha, sequence)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verdict) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(tuple(self.to_json().values()))

    def __repr__(self) -> str:
        return "Verdict(" + ", ".join(f"{k}={v!r}" for k, v in self.to_json().items()) + ")"

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "attempt": self.attempt, "status": self.status, "note": self.note,
                "sha": self.sha, "sequence": self.sequence}


def reviewer_names(f: TicketFacts, named: tuple[str, ...]) -> list[str]:
    """The ticket's reviewer agents in this run (`role: reviewer`, or named in close.reviewers), in plan order."""
    return [agent for agent, role in f.roles if agent in named or role == "reviewer"]


def verdicts(f: TicketFacts, named: tuple[str, ...]) -> list[Verdict]:
    attempts = dict(f.agents)
    found = []
    for name in reviewer_names(f, named):
        attempt = attempts.get(name, 0)
        state = f.state(name, attempt) if attempt >= 1 else None
        review = state.review if state is not None else None
        if review is None:
            found.append(Verdict(name, attempt, None, "", None, None))
        else:
            found.append(Verdict(name, attempt, str(review["status"]), str(review.get("note") or ""),
                                 review.get("sha"), int(review["sequence"])))  # type: ignore[arg-type, call-overload]
    return found


def review(f: TicketFacts, sha: str, policy: Judging) -> CheckResult | None:
    """The `review` check for the ticket at `sha`; None when it has no reviewer."""
    found = verdicts(f, policy.reviewers)
    if not found:
        return None
    details = tuple(_describe(v) for v in found)
    changes = [v for v in found if v.status == "changes_requested"]
    if changes:
        v = changes[0]
        auto = " (policy review.auto_iterate starts the next round with it)" if policy.auto_iterate else ""
        return CheckResult("review", False, f"reviewer {v.agent} requested changes at {str(v.sha)[:12]}: "
                           f"{_short(v.note)}{auto}", details,
                           fix=f"send the note back as a new round: `metawsm iterate {f.ticket} --feedback-file "
                               f"NOTE.md`, or see the thread: `metawsm forum list --ticket {f.ticket}`")
    missing = [v for v in found if v.status is None]
    if missing:
        names = ", ".join(f"{v.agent} (attempt {v.attempt})" for v in missing)
        return CheckResult("review", False, f"no review for HEAD {sha[:12]} from {names}", details,
                           fix="wait for the reviewer (`metawsm status`); it gives its verdict with "
                               "`metawsm signal review --status approved|changes_requested`")
    stale = [v for v in found if v.sha != sha]
    if stale:
        v = stale[0]
        return CheckResult("review", False, f"reviewer {v.agent} approved {str(v.sha)[:12]}, not HEAD {sha[:12]}",
                           details, fix=f"have it review the new commits: `metawsm iterate {f.ticket} --agent "
                                        f"{v.agent} --feedback \"review the new commits\"`")
    return CheckResult("review", True, f"approved at {sha[:12]} by {', '.join(v.agent for v in found)}", details)


def _describe(v: Verdict) -> str:
    if v.status is None:
        return f"{v.agent}: no verdict yet (attempt {v.attempt})"
    return f"{v.agent}: {v.status} at {str(v.sha)[:12]} (attempt {v.attempt}, #{v.sequence})" + (
        f": {_short(v.note)}" if v.note else "")


def _short(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- what judges the branch, and a branch with no run ------------------------------------------------------
def policy_change(changed: list[str], base: str) -> CheckResult:
    return CheckResult("policy_change", False, f"the branch changes what judges it ({', '.join(changed[:10])}); "
                       f"the gate uses the versions on {base}, and only a person can accept this change",
                       tuple(changed), fix="review the change and merge the branch by hand (git merge), or drop "
                                           "these files from the branch")


def no_run(ticket: str) -> CheckResult:
    return CheckResult("run", False, f"no metawsm run has ticket {ticket}, so this branch has never passed "
                       "validation", fix=f"metawsm apply (a plan with {ticket})")
