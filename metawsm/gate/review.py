"""The gate's `review` check: every reviewer of a ticket approved the commit under judgement.

A reviewer is a plan agent with `role: reviewer` (recorded in its `agent:T:A` step) or one named in the
judging policy's `close.reviewers`. Its verdict is the `review` control signal of its **current attempt**
(`metawsm signal review`, or the MCP tool `signal_review`): a verdict of an older attempt never counts, and
an approval counts only for the sha it names. A ticket without reviewers has no review check.

This module also registers the reviewers with `trust.REVIEWERS` (a reviewer's own validation signal is
trusted, see gate/trust.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metawsm.gate import trust

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine
    from metawsm.gate.evaluate import CheckResult


@dataclass(frozen=True)
class Verdict:
    agent: str  # the agent's name in the plan
    attempt: int
    status: str | None  # approved | changes_requested | None (no verdict yet in this attempt)
    note: str
    sha: str | None
    sequence: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def reviewer_names(eng: Engine, run_id: str, ticket: str, policy: Policy | None = None) -> list[str]:
    """The ticket's reviewer agents in this run, in plan order."""
    from metawsm.plan.steps import AgentStep, typed

    named = set((policy or eng.policy).close.reviewers)
    return [step.agent for step in eng.store.list_steps(run_id)
            if step.kind == "agent" and step.ticket == ticket and step.agent
            and (step.agent in named or typed(step, AgentStep).role == "reviewer")]


def verdicts(eng: Engine, run_id: str, ticket: str, policy: Policy | None = None) -> list[Verdict]:
    """Each reviewer's verdict for its current attempt (status None when it gave none yet)."""
    names = reviewer_names(eng, run_id, ticket, policy)
    if not names:
        return []
    attempts = {a.name: a.attempt for a in eng.store.list_agents(run_id) if a.ticket == ticket}
    found = []
    for name in names:
        attempt = attempts.get(name, 0)
        review = (eng.forum.control_state(run_id, eng.agent_key(ticket, name), attempt).review
                  if attempt >= 1 else None)
        if review is None:
            found.append(Verdict(name, attempt, None, "", None, None))
        else:
            found.append(Verdict(name, attempt, str(review["status"]), str(review.get("note") or ""),
                                 review.get("sha"), int(review["sequence"])))
    return found


def review_check(eng: Engine, run_id: str, ticket: str, sha: str, policy: Policy) -> CheckResult | None:
    """The `review` check for `ticket` at `sha`; None when the ticket has no reviewer."""
    from metawsm.gate.evaluate import CheckResult

    found = verdicts(eng, run_id, ticket, policy)
    if not found:
        return None
    details = tuple(_describe(v) for v in found)
    changes = [v for v in found if v.status == "changes_requested"]
    if changes:
        v = changes[0]
        auto = (" (policy review.auto_iterate starts the next round with it)" if policy.review.auto_iterate
                else "")
        return CheckResult("review", False, f"reviewer {v.agent} requested changes at {str(v.sha)[:12]}: "
                           f"{_short(v.note)}{auto}", details,
                           fix=f"send the note back as a new round: `metawsm iterate {ticket} --feedback-file "
                               f"NOTE.md`, or see the thread: `metawsm forum list --ticket {ticket}`")
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
                           details, fix=f"have it review the new commits: `metawsm iterate {ticket} --agent "
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


def _reviewer_of(eng: Any, run_id: str, ticket: str, event: Any) -> str | None:
    """trust.REVIEWERS hook: the reviewer's name when `event` was signalled by a reviewer agent of `ticket`."""
    if event.actor_type != "agent":
        return None
    for name in reviewer_names(eng, run_id, ticket):
        if event.actor_name == eng.agent_key(ticket, name):
            return name
    return None


if _reviewer_of not in trust.REVIEWERS:
    trust.REVIEWERS.append(_reviewer_of)
