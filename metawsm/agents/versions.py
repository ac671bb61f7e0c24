"""The AI CLIs' versions: which ones the built-in profiles are tested with, and which one is installed."""

from __future__ import annotations

import re

from metawsm.errors import MetawsmError
from metawsm.runtime import proc

# the versions tests/agents runs and .ci/run installs (npm: @anthropic-ai/claude-code, @openai/codex)
TESTED = {"claude": "2.1.197", "codex": "0.171.0"}
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.-]+)?")


def installed(cli: str) -> str | None:
    """``<cli> --version``'s version number, or None when the CLI is missing or says nothing usable."""
    binary = proc.which(cli)
    if binary is None:
        return None
    try:
        result = proc.run([binary, "--version"], timeout=15, check=False)
    except MetawsmError:
        return None
    found = _VERSION.search(result.stdout + " " + result.stderr)
    return found.group(0) if found else None
