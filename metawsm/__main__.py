from __future__ import annotations

from metawsm.cli.main import entry

entry()
