"""Alerts a viewer has been shown (`metawsm watch`), so a later watch by the same viewer repeats none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from metawsm.state.db import Database, now

MAX_VIEWER = 200


def alert_digest(key: str) -> str:
    """A fixed-size key for a condition (a question's text can be long)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class AlertsMixin:
    db: Database

    def shown_alerts(self, viewer: str, run_ids: Iterable[str]) -> set[str]:
        """Digests of the alerts `viewer` has been shown for these runs."""
        ids = list(run_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        rows = self.db.read(f"SELECT alert_key FROM watch_alerts WHERE viewer = ? AND run_id IN ({marks})",
                            [viewer[:MAX_VIEWER], *ids])
        return {str(r["alert_key"]) for r in rows}

    def mark_alerts_shown(self, viewer: str, run_id: str, digests: Iterable[str]) -> None:
        keys = list(digests)
        if not keys:
            return
        at = now()
        with self.db.write() as conn:
            conn.executemany("INSERT OR IGNORE INTO watch_alerts (viewer, alert_key, run_id, shown_at)"
                             " VALUES (?, ?, ?, ?)", [(viewer[:MAX_VIEWER], k, run_id, at) for k in keys])
