"""The forum: an append-only JSONL event log (source of truth) indexed into SQLite.

Public API: `Forum` (service.py) and the records in models.py. See docs/forum.md.

The names are imported on first use (PEP 562), so that a process that needs one module of the package
(a rebuild needs `forum.index`, a hook `forum.bounds`) does not import the service and all its layers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metawsm.forum.ids import control_thread_id
    from metawsm.forum.models import ControlState, Escalation, Event, Post, Seen, StatRow, Thread
    from metawsm.forum.service import Forum

__all__ = ["ControlState", "Escalation", "Event", "Forum", "Post", "Seen", "StatRow", "Thread",
           "control_thread_id"]
_HOME = {"Forum": "service", "control_thread_id": "ids", **dict.fromkeys(
    ("ControlState", "Escalation", "Event", "Post", "Seen", "StatRow", "Thread"), "models")}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value
