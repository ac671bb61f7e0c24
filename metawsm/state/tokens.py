"""Agent tokens: a secret per (run, agent) for an agent that reports through the daemon (`METAWSM_SERVER`).

The engine mints one each time it starts an agent (the agent's earlier token is revoked then); only the
token's SHA-256 is stored, so state.db never holds a usable secret. The daemon looks a presented token up
(:meth:`TokensMixin.agent_token_scope`) and lets it signal and ask for its own agent only. Every token of a
run is revoked when the run stops or ends (:meth:`TokensMixin.revoke_run_tokens`, called by
`transition_run` in the same transaction)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from metawsm.state.db import Database, now

PREFIX = "mwa_"  # tells an agent token from the daemon's own token at a glance (and in the middleware)
MAX_TOKEN = 200


@dataclass(frozen=True)
class AgentScope:
    """What an agent token may act for: one agent (``ticket``/``agent``) of one run."""

    run_id: str
    ticket: str
    agent: str  # the agent's name in the plan

    @property
    def key(self) -> str:
        return f"{self.ticket}/{self.agent}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_agent_token(token: str) -> bool:
    return token.startswith(PREFIX) and len(token) <= MAX_TOKEN


class TokensMixin:
    db: Database

    def mint_agent_token(self, run_id: str, ticket: str, agent: str) -> str:
        """A new token for this agent of this run (its earlier tokens are revoked); only the hash is kept."""
        import secrets  # here, not at the top: every command that opens the state store imports this module

        token = PREFIX + secrets.token_urlsafe(32)
        at = now()
        with self.db.write() as conn:
            conn.execute("UPDATE agent_tokens SET revoked_at = ? WHERE run_id = ? AND ticket = ? AND agent = ?"
                         " AND revoked_at IS NULL", (at, run_id, ticket, agent))
            conn.execute("INSERT INTO agent_tokens (token_hash, run_id, ticket, agent, created_at)"
                         " VALUES (?, ?, ?, ?, ?)", (token_hash(token), run_id, ticket, agent, at))
        return token

    def live_agent_tokens(self, run_id: str) -> int:
        rows = self.db.read("SELECT COUNT(*) FROM agent_tokens WHERE run_id = ? AND revoked_at IS NULL", (run_id,))
        return int(rows[0][0])


def revoke_run_tokens(conn: sqlite3.Connection, run_id: str, at: float) -> None:
    """Revoke every live token of ``run_id`` (inside the caller's write transaction)."""
    conn.execute("UPDATE agent_tokens SET revoked_at = ? WHERE run_id = ? AND revoked_at IS NULL", (at, run_id))


def agent_token_scope(state_db: str | Path, token: str) -> AgentScope | None:
    """The live scope of ``token`` read from ``state_db`` (a read-only connection: the daemon checks every
    request with it and must never wait on a writer's migration), or None when unknown or revoked."""
    if not is_agent_token(token) or not Path(state_db).exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT run_id, ticket, agent FROM agent_tokens WHERE token_hash = ?"
                               " AND revoked_at IS NULL", (token_hash(token),)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # no table yet (an older state.db): no agent token can be valid
    return AgentScope(*row) if row else None
