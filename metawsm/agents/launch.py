"""Prepare an AI CLI's launch: its first-run config for this worktree, and the environment it needs.

Called by the engine right before it starts an agent whose profile names a ``cli``. The environment an agent
gets is the profile's and plan's, the METAWSM_* variables, and the starting command's provider variables
(runtime/envpass.py) — so the config written here reads the same key the CLI will use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from metawsm.agents import cliconfig
from metawsm.errors import ExternalError
from metawsm.runtime import envpass


def session_env(env: Mapping[str, str]) -> dict[str, str]:
    """What the agent's process will see of the variables metawsm reads here."""
    return {**os.environ, **envpass.passed(), **env}


def trust_folders(cwd: str, writable_dirs: list[str]) -> list[str]:
    """The worktree, and the main checkout of each repository (Codex trusts per repository root)."""
    folders = [cwd]
    for path in writable_dirs:
        if path.endswith("/.git"):
            root = str(Path(path).parent)
            if root not in folders:
                folders.append(root)
    return folders


def write_mcp_config(path: str) -> None:
    """The --mcp-config file Claude Code reads (metawsm's own state folder: the worktree stays clean)."""
    from metawsm.plan.mcpargs import claude_mcp_config, claude_settings

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(claude_mcp_config(), indent=2) + "\n", encoding="utf-8")
    settings_path(path).write_text(json.dumps(claude_settings(), indent=2) + "\n", encoding="utf-8")


def settings_path(mcp_config: str) -> Path:
    """Claude Code's --settings file (hooks), beside its MCP config."""
    return Path(mcp_config.removesuffix(".json") + ".settings.json")


def prepare(cli: str | None, permissions: str, cwd: str, env: Mapping[str, str],
            writable_dirs: list[str] | None = None, mcp_config: str | None = None) -> dict[str, str]:
    """Write ``cli``'s config for ``cwd``; the extra environment variables its session needs."""
    extra: dict[str, str] = {}
    if cli is None:
        return extra
    if mcp_config:
        try:
            write_mcp_config(mcp_config)
        except OSError as exc:
            raise ExternalError(f"cannot write the MCP config {mcp_config}: {exc}") from exc
    full = session_env(env)
    folders = trust_folders(cwd, list(writable_dirs or []))
    if env.get("METAWSM_RESTART_NOTE") is not None:
        from metawsm.agents.resume import can_resume

        if can_resume(cli, full, cwd):  # a restart continues the CLI's own conversation, with the note
            extra["METAWSM_RESUME"] = "1"
    if cli == "claude":
        bypass = permissions == "bypass"
        cliconfig.claude_trust(full, folders, bypass=bypass)
        if bypass and hasattr(os, "geteuid") and os.geteuid() == 0 and "IS_SANDBOX" not in env:
            # Claude Code refuses --dangerously-skip-permissions as root unless told it runs in a sandbox
            extra["IS_SANDBOX"] = "1"
    elif cli == "codex":
        cliconfig.codex_trust(full, folders)
    return extra
