"""The wheel ships schemas/, hooks/ and plans/, and the data folders resolve in the installed layout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_data_folders(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("metawsm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("policy", "ticket", "plan"):
        assert f"metawsm/_data/schemas/{kind}.json" in names
    assert "metawsm/_data/plans/demo.yaml" in names
    assert "metawsm/_data/hooks/hook.sh.tmpl" in names
    assert "metawsm/cli/main.py" in names
    assert "metawsm/server/templates/base.html" in names and "metawsm/server/static/app.js" in names
    # the `metawsm` command is the plain script (no generated wrapper); installers write its interpreter
    script = next(n for n in names if n.endswith(".data/scripts/metawsm"))
    assert zipfile.ZipFile(wheel).read(script).startswith(b"#!python\n")


def test_readme_names_the_three_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[test]'" in text
    assert "\npytest\n" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]'" in ci and "\npytest\n" in ci
