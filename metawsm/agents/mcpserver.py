"""`metawsm mcp`: the agent's tools (agents/mcptools.py) as a stdio MCP server (the official `mcp` SDK).

``ask_human`` blocks until a person (or the operator) answers and sends a progress notification every few
seconds meanwhile, so a client's request timeout does not end the wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from metawsm.agents.mcptools import AgentSession, AgentTools
from metawsm.errors import MetawsmError

PROGRESS_SECONDS = 5.0
POLL_SECONDS = 0.5

INSTRUCTIONS = ("metawsm runs you as agent {agent} on ticket {ticket} (run {run}, attempt {attempt}). Report "
                "through these tools: signal_completion once, after your last commit (a reviewer gives "
                "signal_review instead: approved, or changes_requested with a note); ask_human to ask a person "
                "and wait for the answer; ticket_context for the goal and done criteria.")


def build_server(tools: AgentTools) -> Any:
    s = tools.session
    server = MCPServer("metawsm", instructions=INSTRUCTIONS.format(agent=s.agent, ticket=s.ticket, run=s.run,
                                                                   attempt=s.attempt))

    @server.tool(description="Report that your work on the ticket is done (after your last commit).")
    def signal_completion(summary: str = "") -> str:
        return tools.completion(summary)

    @server.tool(description="Record your own validation of a commit: status passed or failed, the done "
                             "criteria you checked, and the commit sha (default: HEAD).")
    def signal_validation(status: str, done_criteria: str, sha: str = "") -> str:
        try:
            return tools.validation(status, done_criteria, sha or None)
        except MetawsmError as exc:  # the model reads the reason (any other exception stays a crash)
            raise ToolError(exc.message) from exc

    @server.tool(description="As the ticket's reviewer: give your verdict on the commit (default: HEAD) — "
                             "status approved, or changes_requested with a note saying what to change. It "
                             "also reports your review as done; the ticket closes only once you approved.")
    def signal_review(status: str, note: str = "", sha: str = "") -> str:
        try:
            return tools.review(status, note, sha or None)
        except MetawsmError as exc:
            raise ToolError(exc.message) from exc

    @server.tool(description="Ask a person a question and wait for the answer (it can take minutes or hours).")
    async def ask_human(question: str, ctx: Context, context: str = "") -> str:
        sequence = tools.ask(question, context or None)
        waited = 0.0
        while True:
            answer = tools.answer_after(sequence)
            if answer is not None:
                return answer
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            if waited % PROGRESS_SECONDS < POLL_SECONDS:
                await ctx.report_progress(waited, None, f"waiting for an answer ({waited:.0f}s)")

    @server.tool(description="Open a forum thread on your ticket (a note for people, not a question).")
    def forum_post(title: str, body: str, priority: str = "normal") -> str:
        return tools.post(title, body, priority)

    @server.tool(description="Your run, ticket (title, goal, done criteria), attempt, branch and HEAD, and "
                             "the state of your questions.")
    def ticket_context() -> dict[str, Any]:
        return tools.ticket_context()

    return server


def serve() -> None:
    server = build_server(AgentTools(AgentSession.from_env()))
    server.run("stdio")
