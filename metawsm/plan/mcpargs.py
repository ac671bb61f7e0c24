"""How an AI CLI starts `metawsm mcp`: the same interpreter that runs metawsm (a virtualenv off PATH still
works), with the session's METAWSM_* variables passed through (Codex gives MCP servers a minimal
environment unless told which variables to keep)."""

from __future__ import annotations

import json
import shlex
import sys

# TMUX_TMPDIR: the reconcile the MCP tools kick must reach the session's own tmux server (without it, a
# session started under a custom TMUX_TMPDIR looked dead to that reconcile, which restarted the agent)
MCP_ENV = ("METAWSM_HOME", "METAWSM_RUN", "METAWSM_TICKET", "METAWSM_AGENT", "METAWSM_ATTEMPT", "METAWSM_PLAN",
           "METAWSM_SERVER", "METAWSM_TOKEN", "TMUX_TMPDIR")


# agents/events.py waiting_flag(), in the hook's shell (the session's METAWSM_* variables)
WAITING_FLAG = "$METAWSM_HOME/.metawsm/state/hooks/$METAWSM_RUN.$METAWSM_TICKET.$METAWSM_AGENT.waiting"
NOTIFY = 'nohup "$0" -m metawsm agent-event codex "$1" >/dev/null 2>&1 &'


def mcp_command() -> list[str]:
    return [sys.executable, "-m", "metawsm", "mcp"]


def claude_mcp_config() -> dict[str, object]:
    """Claude Code's --mcp-config document (Claude passes its own environment to the server)."""
    command = mcp_command()
    return {"mcpServers": {"metawsm": {"type": "stdio", "command": command[0], "args": command[1:]}}}


def claude_settings() -> dict[str, object]:
    """Claude Code --settings: hooks reporting the session's status to the forum (metawsm agent-event)."""
    def hook(kind: str) -> list[dict[str, object]]:
        command = shlex.join([*mcp_command()[:-1], "agent-event", kind])
        if kind == "tool-used":  # after every tool call: starts metawsm only while the agent was waiting
            command = f'[ ! -e "{WAITING_FLAG}" ] || {command}'
        return [{"hooks": [{"type": "command", "command": command, "timeout": 30}]}]

    return {"hooks": {"SessionStart": hook("session-start"), "UserPromptSubmit": hook("prompt"), "Stop": hook("stop"),
                      "Notification": hook("notification"), "PostToolUse": hook("tool-used")}}


def codex_mcp_args() -> list[str]:
    """``-c`` overrides (TOML values) declaring the metawsm MCP server for one Codex invocation."""
    command = mcp_command()
    return ["-c", f"mcp_servers.metawsm.command={json.dumps(command[0])}",
            "-c", f"mcp_servers.metawsm.args={json.dumps(command[1:])}",
            "-c", f"mcp_servers.metawsm.env_vars={json.dumps(list(MCP_ENV))}",
            "-c", "mcp_servers.metawsm.tool_timeout_sec=86400",
            # metawsm's own tools only record signals and read the ticket: they run without asking
            "-c", 'mcp_servers.metawsm.default_tools_approval_mode="approve"',
            # the first turn waits for the tools (Codex starts MCP servers in the background otherwise)
            "-c", "mcp_servers.metawsm.required=true", "-c", 'mcp_servers.metawsm.startup_readiness="catalog"',
            "-c", "mcp_servers.metawsm.startup_timeout_sec=60",
            # after each turn Codex runs notify with the event's JSON as the last argument; nohup and a
            # background job keep it alive when codex exec ends right after its last turn (the pane closes)
            "-c", "notify=" + json.dumps(["/bin/sh", "-c", NOTIFY, command[0]])]
