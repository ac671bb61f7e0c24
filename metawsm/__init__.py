"""metawsm: run coding agents across tickets and git worktrees, declaratively."""

from __future__ import annotations

__version__ = "0.1.0"
