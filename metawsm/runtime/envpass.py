"""Which variables of the starting command's environment every session gets explicitly.

A tmux server keeps the environment of the command that first started it; a session created later inherits
that stale copy (an API key exported since, a base URL of another repository). metawsm therefore passes the
current values of these variables with every session it starts, and unsets those that are no longer set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PASS_PREFIXES = ("ANTHROPIC_", "OPENAI_", "CLAUDE_", "CODEX_")
# names metawsm unsets in a session when the starting command does not have them (the provider's credentials
# and endpoints: a stale one would send requests with the wrong key or to the wrong place)
UNSET_WHEN_ABSENT = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
                     "OPENAI_BASE_URL")


def passed(current: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``current`` (default: this process's environment) every session gets."""
    env = os.environ if current is None else current
    return {k: v for k, v in env.items() if k.startswith(PASS_PREFIXES)}


def to_unset(env: Mapping[str, str]) -> list[str]:
    """Credentials and endpoints a session must not inherit from the tmux server because ``env`` lacks them."""
    return [name for name in UNSET_WHEN_ABSENT if name not in env]
