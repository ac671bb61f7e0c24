"""The engine: `reconcile()` advances a run; `apply()` turns a plan into a run. Step kinds live in kinds/."""

from __future__ import annotations
