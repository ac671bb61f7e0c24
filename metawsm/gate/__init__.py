"""The close gate: evaluation (a function of forum, state and git facts) and the git hooks."""

from __future__ import annotations
