from __future__ import annotations

import sys

from metawsm.cli.entry import entry

sys.exit(entry())
