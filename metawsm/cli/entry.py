"""The console script's first stop: `metawsm --version` is answered here, everything else goes to
`metawsm.cli.main`. Imports nothing but `sys`, so the cheapest command costs one interpreter start;
`signal completion|validation` goes to `metawsm.cli.signal_fast` first."""

from __future__ import annotations

import sys


def entry() -> int:
    """`scripts/metawsm` and `python -m metawsm` call this; the return value is the exit status."""
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from metawsm import __version__

        sys.stdout.write(f"metawsm {__version__}\n")
        return 0
    if argv[:1] == ["signal"] and argv[1:2] in (["completion"], ["validation"]):
        from metawsm.cli.signal_fast import run  # agents' signals: see that module

        code = run(argv[1:])
        if code is not None:
            return code
    from metawsm.cli.main import main

    return main(argv)
