"""The AI CLIs' versions: which ones the built-in profiles are tested with, and which one is installed."""

from __future__ import annotations

import functools
import re

from metawsm.errors import MetawsmError
from metawsm.runtime import proc

# the versions tests/agents runs and .ci/run installs (npm: @anthropic-ai/claude-code, @openai/codex)
TESTED = {"claude": "2.1.197", "codex": "0.171.0"}
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.-]+)?")


@functools.cache
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


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("-")[0].split("+")[0])[:3])


def problem(cli: str) -> str | None:
    """Why the installed ``cli`` cannot run the built-in profile, or None. An older version than the tested
    one lacks flags the profile passes (Codex's --dangerously-bypass-approvals-and-sandbox replaced
    --full-auto; its mcp_servers startup_readiness is recent); a newer one is accepted."""
    tested = TESTED.get(cli)
    if tested is None:
        return None
    version = installed(cli)
    if version is None:
        return f"cannot read the version of `{cli}` (`{cli} --version` failed)"
    if _key(version) < _key(tested):
        package = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex"}[cli]
        return (f"{cli} {version} is older than {tested}, the version metawsm's {cli} profile is tested with: "
                f"npm install -g {package}@{tested}")
    return None
