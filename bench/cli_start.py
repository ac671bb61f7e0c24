"""Start-up cost of metawsm's fast paths against the interpreter's own floor, measured side by side.

Floors (same interpreter, same run, round-robin): `python -I -S -c pass` (no site: the interpreter alone)
and `python -I -c pass` (with the virtualenv's site and .pth files). Measured: `metawsm --version`,
`metawsm --help`, and `metawsm signal completion` as an agent runs it (context from METAWSM_* variables,
the run given by flag so no background reconcile is started; one event appended and fsynced per call).
Targets: `--version` ≤ 2x and `signal completion` ≤ 2.5x `python -I -S -c pass`.

    python bench/cli_start.py [--runs 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import FLOORS, emit, measure_interleaved, median_ms, metawsm_exe, precompile

VERSION_MAX, SIGNAL_MAX = 2.0, 2.5


def signal_home(tmp: Path) -> Path:
    root = tmp / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*metawsm_exe(), "-C", str(root), "init"], check=True, stdout=subprocess.DEVNULL)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    precompile()
    exe = metawsm_exe()
    with tempfile.TemporaryDirectory(prefix="mwbench-start-") as tmp:
        home = signal_home(Path(tmp))
        env = {"METAWSM_HOME": str(home), "METAWSM_TICKET": "BENCH-1", "METAWSM_AGENT": "impl",
               "METAWSM_ATTEMPT": "1"}
        env_argv = ["env", *(f"{k}={v}" for k, v in env.items())]
        cmds = {
            **FLOORS,
            "metawsm_version": [*exe, "--version"],
            "metawsm_help": [*exe, "--help"],
            # `env` costs the same in front of both: it execs the command
            "env_python_I_S_pass": [*env_argv, *FLOORS["python_I_S_pass"]],
            "metawsm_signal_completion": [*env_argv, *exe, "signal", "completion", "--run", "bench-run",
                                          "--summary", "done"],
        }
        measured = measure_interleaved(cmds, runs=args.runs, cwd=home)
    ms = {name: median_ms(wall) for name, (wall, _cpu) in measured.items()}
    cpu = {name: median_ms(c) for name, (_wall, c) in measured.items()}
    floor = ms["python_I_S_pass"]
    version_ratio = round(ms["metawsm_version"] / floor, 2)
    signal_ratio = round(ms["metawsm_signal_completion"] / ms["env_python_I_S_pass"], 2)
    emit("cli_start", {
        "runs": args.runs,
        "python_I_S_pass_ms": floor,
        "python_I_pass_ms": ms["python_I_pass"],
        "metawsm_version_ms": ms["metawsm_version"],
        "metawsm_help_ms": ms["metawsm_help"],
        "metawsm_signal_completion_ms": ms["metawsm_signal_completion"],
        "env_python_I_S_pass_ms": ms["env_python_I_S_pass"],
        "ratio": version_ratio,
        "ratio_vs_python_I_pass": round(ms["metawsm_version"] / ms["python_I_pass"], 2),
        "signal_ratio": signal_ratio,
        "target_ratio": VERSION_MAX,
        "target_signal_ratio": SIGNAL_MAX,
        "cpu_ms": cpu,  # user + system time: far steadier than wall time on a shared machine
        "cpu_ratio": round(cpu["metawsm_version"] / cpu["python_I_S_pass"], 2),
        "cpu_signal_ratio": round(cpu["metawsm_signal_completion"] / cpu["env_python_I_S_pass"], 2),
        "meets_target": version_ratio <= VERSION_MAX and signal_ratio <= SIGNAL_MAX,
    })


if __name__ == "__main__":
    main()
