"""What `metawsm tui` shows, as typed records built from run snapshots (the same JSON shape locally and from a
daemon): one row per agent, grouped run → ticket → agent, and the filter over them. No widgets here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AgentRow:
    run_id: str
    plan: str
    run_status: str
    ticket: str
    ticket_status: str
    agent: str  # the agent's name in its plan
    key: str  # TICKET/name
    status: str
    health: str | None
    health_reason: str
    attempt: int
    activity_age: float | None
    last_activity: str | None  # ISO 8601 UTC
    session: str
    question: str | None = None  # the question this attempt waits on
    question_thread: str | None = None
    gate: str = "no gate"
    usage: str = "-"  # tokens in/out and cost over all attempts, when the AI CLI reported them

    @property
    def ident(self) -> str:
        """Unique over every run: the table's row key."""
        return f"{self.run_id}:{self.key}"

    @property
    def live(self) -> bool:
        return self.status not in ("stopped", "pending", "queued", "dead", "failed")

    def haystack(self) -> str:
        return " ".join((self.run_id, self.plan, self.run_status, self.ticket, self.ticket_status, self.key,
                         self.status, self.health or "", "question" if self.question else "")).casefold()


@dataclass(frozen=True)
class Board:
    rows: list[AgentRow] = field(default_factory=list)
    runs: int = 0

    def find(self, ident: str | None) -> AgentRow | None:
        return next((r for r in self.rows if r.ident == ident), None)


def rows_of(snapshot: Mapping[str, Any]) -> list[AgentRow]:
    """The agent rows of one run snapshot (`RunSnapshot.to_json()` or the daemon's /runs shape)."""
    tickets = {t["ticket"]: t["status"] for t in snapshot.get("ticket_states") or ()}
    gates = {g["ticket"]: g["state"] for g in snapshot.get("gates") or ()}
    questions = {(q["ticket"], q["agent"]): q for q in snapshot.get("questions") or ()}
    rows = []
    for a in snapshot.get("agents") or ():
        q = questions.get((a["ticket"], a["name"]))
        rows.append(AgentRow(
            run_id=str(snapshot["run_id"]), plan=str(snapshot.get("plan_name") or ""),
            run_status=str(snapshot.get("status") or ""), ticket=str(a["ticket"]),
            ticket_status=str(tickets.get(a["ticket"], "")), agent=str(a["name"]), key=str(a["key"]),
            status="queued" if a.get("queued") else str(a["status"]), health=a.get("health"),
            health_reason=f"queued: {a['queued']}" if a.get("queued") else str(a.get("health_reason") or ""),
            attempt=int(a.get("attempt") or 0), activity_age=a.get("activity_age_seconds"),
            last_activity=a.get("last_activity_at"),
            session=str(a.get("session") or ""), question=q["question"] if q else None,
            question_thread=q["thread_id"] if q else None, gate=str(gates.get(a["ticket"], "no gate")),
            usage=usage_text(a.get("usage"))))
    return rows


def board_of(snapshots: Iterable[Mapping[str, Any]], *, run_id: str | None = None,
             ticket: str | None = None) -> Board:
    """Every agent of ``snapshots`` (only ``run_id`` / ``ticket`` when given), run by run, ticket by ticket."""
    rows: list[AgentRow] = []
    runs = 0
    for snap in snapshots:
        if run_id and snap["run_id"] != run_id:
            continue
        runs += 1
        mine = [r for r in rows_of(snap) if not ticket or r.ticket == ticket]
        rows += sorted(mine, key=lambda r: (r.ticket, r.agent))
    return Board(rows, runs)


def matching(rows: Iterable[AgentRow], text: str) -> list[AgentRow]:
    """The rows whose run, plan, ticket, agent, states or 'question' contain every word of ``text``."""
    words = text.casefold().split()
    return [r for r in rows if all(w in r.haystack() for w in words)]


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def usage_text(usage: Mapping[str, Any] | None) -> str:
    """``12.3k/456 $0.01``: tokens in (cache included) / out, and the cost when known; ``-`` without usage."""
    if not usage:
        return "-"
    tokens_in = sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens"))
    cost = usage.get("cost_usd")
    return f"{_k(tokens_in)}/{_k(int(usage.get('output_tokens') or 0))}" + (f" ${cost:.2f}" if cost is not None else "")


def clock(stamp: str | None) -> str:
    """An ISO 8601 UTC time as local ``HH:MM:SS`` (``MM-DD HH:MM`` when not today): a table cell that changes
    only when the agent shows something new (an age would rewrite every row on every refresh)."""
    if not stamp:
        return "-"
    from datetime import datetime

    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return "-"
    return when.strftime("%H:%M:%S" if when.date() == datetime.now().astimezone().date() else "%m-%d %H:%M")


