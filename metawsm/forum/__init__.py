"""The forum: an append-only JSONL event log (source of truth) indexed into SQLite.

Public API: `Forum` (service.py) and the records in models.py. See docs/forum.md."""

from __future__ import annotations

from metawsm.forum.ids import control_thread_id
from metawsm.forum.models import ControlState, Escalation, Event, Post, Seen, StatRow, Thread
from metawsm.forum.service import Forum

__all__ = ["ControlState", "Escalation", "Event", "Forum", "Post", "Seen", "StatRow", "Thread",
           "control_thread_id"]
