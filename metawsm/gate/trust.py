"""What the gate trusts.

- **The judging policy** comes from the base branch (the committed `.metawsm/policy.yaml` of
  `base_branch`), never from the branch under judgement; when the base branch has no policy file, the
  project's own policy applies (the main checkout's, or the defaults). A ticket branch that changes the
  policy, a plan or a ticket file is reported by the `policy_change` check, which only a person can
  clear (review the change and merge it by hand).
- **Validation** passes the gate only when it comes from metawsm's own check step (the `checks`
  pseudo-agent, written by the engine as actor system/metawsm; no CLI or API caller can sign as
  system), from a reviewer of the ticket (an agent step with `role: reviewer`, or named in the judging
  policy's `close.reviewers`), or — only when the policy's `close.manual_validation.allowed` is set — from
  an actor it names in `close.manual_validation.by`. Any other validation signal is recorded and shown,
  never trusted.

The rules themselves are `gate/rules.py` (`validation_source`, `policy_change`); this module turns the base
branch's policy file into a `Policy` for the engine's commands (the pre-push hook reads the same file and
takes its values from the hooks cache when it is the checkout's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metawsm.errors import ConfigError
from metawsm.gate.gitfacts import JUDGING_DIRS, POLICY_FILE

if TYPE_CHECKING:
    from collections.abc import Callable

    from metawsm.config.models import Policy

__all__ = ["JUDGING_DIRS", "POLICY_FILE", "judging_policy", "parsed", "remember_policy"]


def judging_policy(project_policy: Callable[[], Policy], data: bytes | None, base_branch: str) -> Policy:
    """The policy that policy file content `data` (committed on `base_branch`; None: the branch has none)
    parses to (see the module doc); `project_policy()` when it has none or it is invalid."""
    if data is None:
        return project_policy()  # the base branch has no policy file: the project's own (or the defaults)
    known = _PARSED.get(data)
    if known is not None:
        return known
    from metawsm.config.loader import policy_from_bytes

    try:
        policy = policy_from_bytes(f"{base_branch}:{POLICY_FILE}", data)
    except ConfigError:
        return project_policy()
    _PARSED[data] = policy
    return policy


# Policy file content -> the policy it parses to, within one process: the gate asks for the judging
# policy once per ticket, and a command judging many tickets reads the same file each time.
_PARSED: dict[bytes, Policy] = {}


def parsed(data: bytes) -> Policy | None:
    """The policy content `data` parsed to in this process, if it was parsed (and valid)."""
    return _PARSED.get(data)


def remember_policy(data: bytes, policy: Policy) -> None:
    """Record that policy file content `data` parses to `policy` (known without parsing it again)."""
    _PARSED[data] = policy
