"""What the gate trusts.

- **The judging policy** comes from the base branch (the committed `.metawsm/policy.yaml` of
  `base_branch`), never from the branch under judgement; when the base branch has no policy file, the
  project's own policy applies (the main checkout's, or the defaults). A ticket branch that changes the
  policy, a plan or a ticket file is reported by the `policy_change` check, which only a person can
  clear (review the change and merge it by hand).
- **Validation** passes the gate only when it comes from metawsm's own check step (the `checks`
  pseudo-agent, written by the engine as actor system/metawsm; no CLI or API caller can sign as
  system), from a trusted reviewer (the `reviewers` hook, for review agents), or — only when the policy's
  `close.manual_validation.allowed` is set — from an actor it names in `close.manual_validation.by`. Any
  other validation signal is recorded and shown, never trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from metawsm.errors import ConfigError
from metawsm.runtime import git

if TYPE_CHECKING:
    from metawsm.config.models import Policy
    from metawsm.gate.context import GateContext as Engine

POLICY_FILE = ".metawsm/policy.yaml"
JUDGING_DIRS = ("plans/", "tickets/")
SYSTEM_ACTOR = ("system", "metawsm")
# Issue 16 (review loop) registers here: fn(eng, run_id, ticket, event) -> reviewer name or None.
REVIEWERS: list[Callable[[Any, str, str, Any], str | None]] = []


def judging_policy(eng: Engine, repo_path: str, base_branch: str) -> Policy:
    """The policy committed on `base_branch` (see the module doc)."""
    result = git.git(repo_path, "show", f"{base_branch}:{POLICY_FILE}", check=False)
    if result.code != 0:
        return eng.policy  # the base branch has no policy file: the project's own (or the defaults)
    data = result.stdout.encode("utf-8")
    known = _PARSED.get(data)
    if known is not None:
        return known
    from metawsm.config.loader import policy_from_bytes

    try:
        policy = policy_from_bytes(f"{base_branch}:{POLICY_FILE}", data)
    except ConfigError:
        return eng.policy
    _PARSED[data] = policy
    return policy


# Policy file content -> the policy it parses to, within one process: the gate asks for the judging
# policy more than once per ticket, and the hooks seed it from their cache (no YAML, no jsonschema).
_PARSED: dict[bytes, Policy] = {}


def remember_policy(data: bytes, policy: Policy) -> None:
    """Record that policy file content `data` parses to `policy` (known without parsing it again)."""
    _PARSED[data] = policy


def judging_changes(repo_path: str, base_branch: str, sha: str) -> list[str]:
    """Policy, plan and ticket files (YAML) the branch changes since it left `base_branch`."""
    # BASE...SHA: from their merge base to SHA, in one git process; no common history: nothing it changes
    result = git.git(repo_path, "diff", "--name-only", "-z", "--no-renames", f"{base_branch}...{sha}", "--",
                     POLICY_FILE, *JUDGING_DIRS, check=False)
    if result.code != 0:
        return []
    out = result.stdout
    return sorted(p for p in out.split("\0") if p and (p == POLICY_FILE or p.endswith((".yaml", ".yml"))))


def validation_source(eng: Engine, run_id: str, ticket: str, validation: dict[str, Any],
                      policy: Policy) -> tuple[bool, str]:
    """(trusted, who) for a recorded validation (a control_state validation with `by` and `sequence`)."""
    from metawsm.gate.context import CHECKS_AGENT

    events, _ = eng.forum.events(int(validation["sequence"]) - 1, 1)
    event = events[0] if events else None
    if event is None:
        return False, "an unknown signal"
    who = f"{event.actor_type}:{event.actor_name}"
    if (event.actor_type, event.actor_name) == SYSTEM_ACTOR and validation["by"] == eng.agent_key(ticket, CHECKS_AGENT):
        return True, "metawsm's check step"
    for reviewer in REVIEWERS:
        name = reviewer(eng, run_id, ticket, event)
        if name:
            return True, f"reviewer {name}"
    manual = policy.close.manual_validation
    if manual.allowed and (event.actor_name in manual.by or validation["by"] in manual.by):
        return True, f"{who} (manual validation allowed by close.manual_validation)"
    return False, who
