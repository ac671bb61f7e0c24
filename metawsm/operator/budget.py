"""The operator's persisted memory per (run, ticket, agent), in state.db's operator_agent_state table:
consecutive unhealthy ticks, restarts spent, last restart, cooldown end, and which alerts were already
raised (the `last_alert` column holds a small JSON object, so each kind of alert is deduplicated on
its own). Everything survives a restart of the operator; nothing is written in a dry run."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metawsm.state import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentLedger:
    run_id: str
    ticket: str
    agent: str
    consecutive_unhealthy: int = 0
    restart_attempts: int = 0
    last_restart_at: float | None = None
    cooldown_until: float | None = None
    alerts: dict[str, Any] = field(default_factory=dict)  # kind -> the key last alerted (question seq, attempt)

    def alerted(self, kind: str, key: object) -> bool:
        return self.alerts.get(kind) == key

    def to_json(self) -> dict[str, Any]:
        return {"consecutive_unhealthy": self.consecutive_unhealthy, "restart_attempts": self.restart_attempts,
                "last_restart_at": self.last_restart_at, "cooldown_until": self.cooldown_until,
                "alerts": self.alerts}


def _alerts(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {"legacy": text}
    return data if isinstance(data, dict) else {}


class Ledger:
    """Reads and (unless `dry_run`) writes the operator's counters."""

    def __init__(self, store: StateStore, *, dry_run: bool = False) -> None:
        self.store, self.dry_run = store, dry_run

    def get(self, run_id: str, ticket: str, agent: str) -> AgentLedger:
        row = self.store.get_operator_state(run_id, ticket, agent)
        if row is None:
            return AgentLedger(run_id, ticket, agent)
        return AgentLedger(run_id, ticket, agent, row.consecutive_unhealthy, row.restart_attempts,
                           row.last_restart_at, row.cooldown_until, _alerts(row.last_alert))

    def _put(self, old: AgentLedger, new: AgentLedger) -> AgentLedger:
        if new == old or self.dry_run:
            return new
        self.store.put_operator_state(
            new.run_id, new.ticket, new.agent, consecutive_unhealthy=new.consecutive_unhealthy,
            restart_attempts=new.restart_attempts, last_restart_at=new.last_restart_at,
            cooldown_until=new.cooldown_until,
            last_alert=json.dumps(new.alerts, sort_keys=True) if new.alerts else None)
        return new

    def observe(self, led: AgentLedger, unhealthy: bool) -> AgentLedger:
        """Count one more unhealthy tick, or reset the count when the agent is healthy again."""
        count = led.consecutive_unhealthy + 1 if unhealthy else 0
        return self._put(led, replace(led, consecutive_unhealthy=count))

    def completed(self, led: AgentLedger) -> AgentLedger:
        """The agent completed its ticket: its budget starts afresh (the Go port never reset it)."""
        if led.restart_attempts:
            log.info("%s/%s of %s completed: restart budget reset", led.ticket, led.agent, led.run_id)
        return self._put(led, AgentLedger(led.run_id, led.ticket, led.agent))

    def restarted(self, led: AgentLedger, now: float, cooldown_seconds: float) -> AgentLedger:
        """Spend one restart (written before the restart itself, so a crash mid-restart still counts)."""
        return self._put(led, replace(led, consecutive_unhealthy=0, restart_attempts=led.restart_attempts + 1,
                                      last_restart_at=now, cooldown_until=now + cooldown_seconds))

    def alert(self, led: AgentLedger, kind: str, key: object) -> AgentLedger:
        return self._put(led, replace(led, alerts={**led.alerts, kind: key}))
