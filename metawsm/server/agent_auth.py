"""Agent tokens at the daemon: a request bearing one (``Authorization: Bearer mwa_…``, minted by the engine for
an agent that reports through the daemon, see metawsm/state/tokens.py) may only signal and ask for its own
agent. The middleware (auth.py) resolves the token to its scope and lets through the few routes below; each
of those routes then checks that the run, ticket and agent it acts on are the token's
(:func:`require_own`). Anything else is 403; an unknown or revoked token is 401."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from metawsm.server.errors import ApiError
from metawsm.state.tokens import AgentScope, agent_token_scope, is_agent_token

SCOPE_KEY = "metawsm.agent_scope"
#: (method, path) an agent token may call; each route checks the agent itself.
AGENT_ROUTES = frozenset({
    ("POST", "/api/v1/forum/control/signal"),  # metawsm signal / ask / the MCP tools
    ("GET", "/api/v1/forum/control/state"),  # metawsm ask waiting for its answer, MCP ticket_context
    ("POST", "/api/v1/forum/threads"),  # the MCP forum_post tool: a thread on its own ticket, as itself
})


def bearer(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


def resolve(state_db: Any, headers: dict[str, str]) -> tuple[bool, AgentScope | None]:
    """(whether the request bears an agent token, its live scope or None when unknown/revoked)."""
    token = bearer(headers)
    if not is_agent_token(token):
        return False, None
    return True, agent_token_scope(state_db, token) if state_db is not None else None


def allowed(method: str, path: str) -> bool:
    return (method.upper(), path.rstrip("/") or "/") in AGENT_ROUTES


def scope_of(request: Request) -> AgentScope | None:
    """The agent scope of this request (None: the daemon's own token, or no token on loopback)."""
    found = request.scope.get(SCOPE_KEY)
    return found if isinstance(found, AgentScope) else None


def require_own(request: Request, run_id: str | None, ticket: str | None, agent: str | None) -> None:
    """403 unless a request made with an agent token acts for exactly that token's run, ticket and agent
    (``agent``: NAME or TICKET/NAME). Requests without an agent token pass."""
    scope = scope_of(request)
    if scope is None:
        return
    name = agent or ""
    if "/" in name:
        owner, _, name = name.partition("/")
        if owner != scope.ticket:
            name = ""
    if run_id != scope.run_id or (ticket is not None and ticket != scope.ticket) or name != scope.agent:
        raise ApiError(403, "forbidden", "this agent token may only signal and ask for its own agent "
                                         f"({scope.key} in run {scope.run_id})")
