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


# Issue 20: `metawsm validate` runs at the floor of a bare YAML + jsonschema-rs loop, so what it imports beyond
# that loop is counted: these are the modules that cost most and that validate does not need.
# Valid files are accepted by the pure-Python check (config/quickcheck.py): jsonschema-rs is loaded only for a file
# that check does not accept.
HEAVY_FOR_VALIDATE = ("dataclasses", "inspect", "metawsm.config.models", "shutil", "jsonschema", "jsonschema_rs",
                      "difflib", "rich", "copy", "sqlite3", "subprocess", "importlib.metadata", "metawsm.engine",
                      "metawsm.forum")


def test_validate_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / ".metawsm").mkdir()  # the repository root is here, whatever the folders above hold
    (tmp_path / "tickets").mkdir()
    (tmp_path / "plans").mkdir()
    (tmp_path / "tickets" / "T-1.yaml").write_text("id: T-1\ntitle: One\nlabels: [a]\n", encoding="utf-8")
    (tmp_path / "plans" / "p.yaml").write_text("name: p\ntickets: [T-1]\nagents:\n  - name: w\n    profile: shell\n"
                                              "    run: 'true'\n", encoding="utf-8")
    _, floor = imported("-c", "pass")  # what the interpreter's own site imports (a site .pth may import shutil)
    out, names = imported("scripts/metawsm", "-C", str(tmp_path), "validate")
    assert out == "ok: 2 files valid (1 tickets, 1 plans)\n"
    heavy = sorted(n for n in names - floor if n in HEAVY_FOR_VALIDATE
                   or n.startswith(("metawsm.config.models", "metawsm.config.runtime_models")))
    assert heavy == [], f"validate imported {heavy}"
    # an error still gets its located message (difflib for the suggestion is imported then, and only then)
    (tmp_path / "plans" / "p.yaml").write_text("name: p\ntickets: [T-1]\nagents:\n  - name: w\n    profile: shel\n"
                                              "    run: 'true'\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "scripts/metawsm", "-C", str(tmp_path), "validate"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "plans/p.yaml:5:14: agents[0].profile: unknown profile 'shel'" in proc.stderr
    assert "(did you mean 'shell'?)" in proc.stderr


def test_every_config_record_has_a_docstring() -> None:
    # a dataclass without a docstring gets one generated with inspect.signature when the class is made, which
    # costs about as much as the rest of its creation; every command imports the config models
    import ast

    bare = []
    for module in ("models.py", "runtime_models.py"):
        tree = ast.parse((ROOT / "metawsm" / "config" / module).read_text(encoding="utf-8"))
        bare += [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and not ast.get_docstring(n)]
    assert bare == [], f"add a docstring to {bare}"
