"""`metawsm mcp`: the agent's tools (agents/mcptools.py) as a stdio MCP server (the official `mcp` SDK).

``ask_human`` blocks until a person (or the operator) answers and sends a progress notification every few
seconds meanwhile, so a client's request timeout does not end the wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from metawsm.agents.mcptools import AgentSession, AgentTools

PROGRESS_SECONDS = 5.0
POLL_SECONDS = 0.5

INSTRUCTIONS = ("metawsm runs you as agent {agent} on ticket {ticket} (run {run}, attempt {attempt}). Report "
                "through these tools: signal_completion once, after your last commit; ask_human to ask a person "
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
        return tools.validation(status, done_criteria, sha or None)

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
