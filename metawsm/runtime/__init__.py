"""The only code that touches the outside world: subprocesses (proc), git, and tmux.

Imports nothing from metawsm except ``metawsm.errors``. Every failure surfaces as an ExternalError
(``proc.CommandFailed`` for commands that ran and failed).
"""

from __future__ import annotations
