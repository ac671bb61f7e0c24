"""The benchmarks run anywhere: no module name shadows another, every bench imports under a safe path,
and `bench/run_all.py` runs a bench end to end from this interpreter with its folder off PATH.

No timing is asserted here (figures belong in docs/performance.md): only that the harness runs and
produces every figure."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("*.py"))
TEST_MODULES = sorted((ROOT / "tests").rglob("*.py"))


def _installed_top_level() -> set[str]:
    return set(importlib.metadata.packages_distributions())


def test_the_bench_and_test_folders_are_found() -> None:
    assert len(BENCHES) >= 5 and (ROOT / "bench" / "run_all.py") in BENCHES
    assert Path(__file__) in TEST_MODULES


@pytest.mark.parametrize("path", BENCHES + TEST_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_name_shadows_the_standard_library_or_an_installed_package(path: Path) -> None:
    # A script's folder comes first on sys.path: bench/operator.py once replaced the standard `operator`
    # for every import in the bench (re -> enum -> operator), and the documented command failed.
    assert path.stem not in sys.stdlib_module_names, f"{path.relative_to(ROOT)} shadows the standard library"
    assert path.stem not in _installed_top_level(), f"{path.relative_to(ROOT)} shadows an installed package"


def test_every_test_folder_is_a_package() -> None:
    # so tests/operator/ is imported as tests.operator and never as a top-level `operator`
    folders = {p.parent for p in TEST_MODULES}
    assert [f for f in folders if not (f / "__init__.py").is_file()] == []


@pytest.mark.parametrize("path", [p for p in BENCHES if not p.stem.startswith("_")], ids=lambda p: p.stem)
def test_every_bench_starts_with_a_safe_path(path: Path, tmp_path: Path) -> None:
    # -I implies -P (PYTHONSAFEPATH): the script's folder is not on sys.path, so `_common` must be found anyway
    proc = subprocess.run([sys.executable, "-I", str(path), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_run_all_runs_a_bench_with_the_virtualenv_off_path(tmp_path: Path) -> None:
    out, raw = tmp_path / "perf.md", tmp_path / "perf.json"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHONSAFEPATH": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only", "cli_start",
                           "--out", str(out), "--json", str(raw)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(raw.read_text(encoding="utf-8"))
    assert data["errors"] == {} and data["missing_figures"] == []
    figures = data["results"]["cli_start"]
    for key in ("python_I_S_pass_ms", "python_I_pass_ms", "metawsm_version_ms", "metawsm_signal_completion_ms"):
        assert figures[key] > 0, key
    assert set(data["floors_ms"]) == {"python_I_S_pass", "python_I_pass"}
    doc = out.read_text(encoding="utf-8")
    assert "`python -I -S -c pass`" in doc and "`python -I -c pass`" in doc
    assert "| cli_start | `metawsm --version` start |" in doc
    assert "## Targets of issue 20" in doc  # bench/NOTES.md, included
    # --rerender rebuilds the table from the raw figures it stored: same run, same text
    subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--rerender", "--out", str(out)],
                   check=True, timeout=60)
    assert out.read_text(encoding="utf-8") == doc


def test_run_all_exits_1_when_a_bench_crashes(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--only", "cli_start",
                           "--out", str(tmp_path / "p.md"), "--json", str(tmp_path / "p.json")],
                          cwd=tmp_path, env={**os.environ, "PATH": "/nonexistent"}, capture_output=True, text=True,
                          timeout=120)
    # without PATH there is no git: the bench fails, and the harness says so in its exit status and JSON
    assert proc.returncode == 1, proc.stderr
    data = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert "cli_start" in data["errors"] and data["results"]["cli_start"] is None


def test_every_bench_accepts_the_arguments_run_all_quick_gives_it(tmp_path: Path) -> None:
    # a bench that refused its --quick arguments would fail CI's benchmark step only
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run_all
    finally:
        sys.path.remove(str(ROOT / "bench"))
    for name in run_all.bench_names(None):
        script = ROOT / "bench" / f"{name}.py"
        options = [a for a in run_all.quick_args(name) if a.startswith("--")]
        usage = subprocess.run([sys.executable, "-I", str(script), "--help"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60, check=True).stdout
        assert [o for o in options if o not in usage] == [], name
    assert set(run_all.QUICK_ARGS) <= set(run_all.bench_names(None))
    assert {row.bench for row in run_all.ROWS} <= set(run_all.bench_names(None))


def test_a_row_the_bench_could_not_measure_here_is_not_missing() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run_all
    finally:
        sys.path.remove(str(ROOT / "bench"))
    ssh_only = {"agents": 4, "docker_skipped": "dockerd is not installed", "ssh": {"apply_to_running_s": 1.0}}
    assert run_all.missing_figures({"backends": ssh_only}) == []
    # without the reason, the same absent figures are missing (a bench that lost them by mistake fails)
    lost = run_all.missing_figures({"backends": {"agents": 4, "ssh": {"apply_to_running_s": 1.0}}})
    assert "backends: docker_added_s" in lost and "backends: swarm.added_s" in lost
    # docker measured, swarm could not be: only swarm's rows are excused
    no_swarm = {"docker_added_s": 1.0, "local": {"apply_to_running_s": 1.0},
                "docker": {"memory_per_agent_mib": 9.0}, "swarm_skipped": "one dockerd only"}
    assert run_all.missing_figures({"backends": no_swarm}) == []
