"""Whether a restarted AI agent can resume the CLI's own conversation in its worktree.

Claude Code keeps conversations in ``~/.claude/projects/<cwd with every non-alphanumeric character as '-'>/
*.jsonl`` (``--continue`` resumes the latest); Codex keeps ``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``
whose first line names the session's cwd (``resume --last`` resumes the latest). The built-in profiles pass
those flags when metawsm sets ``METAWSM_RESUME=1`` — only when such a conversation exists, since
``claude --continue`` with none fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from metawsm.agents import cliconfig

_NEWEST = 200  # Codex rollout files looked at, newest first


def claude_has_conversation(env: Mapping[str, str], cwd: str) -> bool:
    base = cliconfig.claude_config_path(env).parent
    folder = (base / ".claude" if not env.get("CLAUDE_CONFIG_DIR") else base) / "projects" / re.sub(
        r"[^A-Za-z0-9]", "-", cwd)
    return folder.is_dir() and any(folder.glob("*.jsonl"))


def codex_has_conversation(env: Mapping[str, str], cwd: str) -> bool:
    sessions = cliconfig.codex_config_path(env).parent / "sessions"
    if not sessions.is_dir():
        return False
    files = sorted(sessions.glob("*/*/*/rollout-*.jsonl"), reverse=True)[:_NEWEST]
    for path in files:
        try:
            with path.open(encoding="utf-8") as handle:
                first = json.loads(handle.readline() or "{}")
        except (OSError, ValueError):
            continue
        if isinstance(first, dict) and (first.get("payload") or {}).get("cwd") == cwd:
            return True
    return False


def can_resume(cli: str | None, env: Mapping[str, str], cwd: str) -> bool:
    if cli == "claude":
        return claude_has_conversation(env, cwd)
    if cli == "codex":
        return codex_has_conversation(env, cwd)
    return False
