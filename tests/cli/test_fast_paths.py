"""The cheapest commands cost one interpreter start: what `metawsm --version` imports, through the
console script the wheel installs (scripts/metawsm) and through `python -m metawsm`.

Imports are compared with `python -X importtime`, so the test names the module that crept in; no timing is
asserted (figures belong in bench/cli_start.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# modules `--version` may add to a bare interpreter's: metawsm's own entry, nothing else
ALLOWED = {"__future__", "metawsm", "metawsm.cli", "metawsm.cli.entry"}


def imported(*argv: str) -> tuple[str, set[str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc.stdout, names - {"package"}


@pytest.mark.parametrize("argv", [["scripts/metawsm", "--version"], ["-m", "metawsm", "--version"],
                                  ["scripts/metawsm", "-V"]], ids=["script", "module", "script-V"])
def test_version_imports_only_the_entry_module(argv: list[str]) -> None:
    _, floor = imported("-c", "pass")
    out, names = imported(*argv)
    assert out == "metawsm 0.1.0\n" or out.startswith("metawsm ")
    extra = names - floor - ALLOWED
    if argv[0] == "-m":  # runpy's own imports, paid by any `python -m`
        _, runpy = imported("-m", "__hello__")  # a frozen module that only prints
        extra -= runpy
    assert extra == set(), f"--version imported {sorted(extra)}"


def test_console_script_has_no_generated_wrapper() -> None:
    # the generated [project.scripts] wrapper imports `re` before metawsm: the script is ours instead
    text = (ROOT / "scripts" / "metawsm").read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env python3\n")
    assert "import re" not in text and "from metawsm.cli.entry import entry" in text


def test_anything_else_reaches_the_full_parser(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "metawsm"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage: metawsm" in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "metawsm"), "no-such-verb"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_the_version_constant_is_the_distributions_version() -> None:
    # pyproject.toml takes the version from metawsm/__init__.py (hatch dynamic version): one place, and
    # `--version` never needs importlib.metadata
    import importlib.metadata

    import metawsm

    assert importlib.metadata.version("metawsm") == metawsm.__version__
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
