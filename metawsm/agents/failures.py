"""Name why an AI CLI ended or stalled, from its own last output, so a person knows what to do.

:func:`last_lines` keeps the CLI's last meaningful lines (not tmux's "Pane is dead" or blank lines);
:func:`recognise` matches the failures people meet — not logged in or an invalid key, an unknown flag, a
permission refused, a rate limit — and returns a sentence naming the cause and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOISE = re.compile(r"^\s*(Pane is dead.*|\[?exited\]?|[─━═\-_=╭╮╰╯│ ]*)\s*$")


@dataclass(frozen=True)
class Failure:
    kind: str  # auth | unknown_flag | permission | rate_limit
    message: str


_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("auth", re.compile(r"invalid[ _-]?(x-)?api[ _-]?key|incorrect api key|authentication_(error|failed)|"
                        r"401 unauthorized|\"error_status\":\s*401|not logged in|please run /login|"
                        r"missing (an )?api key|missing environment variable: .?\w*(API_KEY|TOKEN)|"
                        r"OPENAI_API_KEY.*(not set|missing)", re.I),
     "the CLI is not logged in or its API key was refused: export a valid key (ANTHROPIC_API_KEY / OPENAI_API_KEY "
     "or the profile's env) in the shell you run metawsm from, then `metawsm restart`"),
    ("unknown_flag", re.compile(r"unexpected argument|unknown option|unrecognized (option|argument)|"
                                r"error: unknown|invalid value .* for '--", re.I),
     "the CLI refused the profile's command line (a flag this version does not know)"),
    ("rate_limit", re.compile(r"rate[ _-]?limit|429 too many|too many requests|usage limit|quota exceeded|"
                              r"overloaded_error", re.I),
     "the provider is rate limiting: wait, or lower execution.max_parallel, then `metawsm restart`"),
    ("permission", re.compile(r"requires? approval|permission denied|not allowed|read-only file system|"
                              r"operation not permitted|was blocked|haven't granted", re.I),
     "the agent was refused a permission: see docs/agents.md (permissions: workspace or bypass)"),
)


def last_lines(text: str, count: int = 8) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for line in lines if line.strip() and not _NOISE.match(line)]
    return kept[-count:]


def recognise(text: str) -> Failure | None:
    for kind, pattern, advice in _PATTERNS:
        if pattern.search(text):
            return Failure(kind, advice)
    return None


def explain(text: str, *, cli: str | None, command: str) -> str:
    """One note: the recognised cause (if any), then the CLI's last meaningful lines."""
    lines = last_lines(text)
    found = recognise("\n".join(lines)) if lines else None
    parts: list[str] = []
    if found is not None:
        message = found.message
        if found.kind == "unknown_flag" and cli:
            from metawsm.agents.versions import TESTED, installed

            message += (f" — {cli} {installed(cli) or '(version unknown)'} installed, the built-in profile is "
                        f"tested with {TESTED.get(cli, '?')}; profile command: {command[:300]}")
        parts.append(message)
    if lines:
        parts.append("last output: " + " | ".join(line.strip() for line in lines))
    return "; ".join(parts)
