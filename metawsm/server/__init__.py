"""`metawsm serve`: the daemon — a reconcile worker, the HTTP API (`/api/v1`, compatible with the Go
metawsm), the forum WebSocket stream and the web UI. A thin front over the same core functions as the
CLI: every route parses, calls one core function and presents its result. See docs/api.md."""

from __future__ import annotations
