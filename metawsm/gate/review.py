"""The gate's `review` check: every reviewer of a ticket approved the commit under judgement.

A reviewer is a plan agent with `role: reviewer` (recorded in its `agent:T:A` step) or one named in the
judging policy's `close.reviewers`. Its verdict is the `review` control signal of its **current attempt**
(`metawsm signal review`, or the MCP tool `signal_review`): a verdict of an older attempt never counts, and
an approval counts only for the sha it names. A ticket without reviewers has no review check. A reviewer's
own validation signal is trusted (gate/trust.py).

The rules are `gate/rules.py` (`review`, `verdicts`), judged by `gate.evaluate.judge`; this module gives the
engine's commands (auto-iteration, PR bodies) the same verdicts, read by the gate's reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.gate import rules
from metawsm.gate.rules import Verdict

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine

__all__ = ["Verdict", "reviewer_names", "verdicts"]


def reviewer_names(eng: Engine, run_id: str, ticket: str, policy: Policy | None = None) -> list[str]:
    """The ticket's reviewer agents in this run, in plan order."""
    from metawsm.gate.evaluate import ticket_facts

    named = tuple((policy or eng.policy).close.reviewers)
    return rules.reviewer_names(ticket_facts(eng, run_id, ticket), named)


def verdicts(eng: Engine, run_id: str, ticket: str, policy: Policy | None = None) -> list[Verdict]:
    """Each reviewer's verdict for its current attempt (status None when it gave none yet)."""
    from metawsm.gate.evaluate import ticket_facts

    named = tuple((policy or eng.policy).close.reviewers)
    return rules.verdicts(ticket_facts(eng, run_id, ticket), named)
