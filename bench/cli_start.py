"""`metawsm --version` start-up time against a bare `python -I -c pass` (target: ratio ≤ 3)."""

from __future__ import annotations

import argparse

from _common import PY, emit, median_ms, metawsm_exe, precompile, time_cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    precompile()
    bare = time_cmd([PY, "-I", "-c", "pass"], runs=args.runs)
    version = time_cmd([*metawsm_exe(), "--version"], runs=args.runs)
    help_ = time_cmd([*metawsm_exe(), "--help"], runs=args.runs)
    ratio = median_ms(version) / median_ms(bare)
    emit("cli_start", {
        "runs": args.runs,
        "python_I_pass_ms": median_ms(bare),
        "metawsm_version_ms": median_ms(version),
        "metawsm_help_ms": median_ms(help_),
        "ratio": round(ratio, 2),
        "target_ratio": 3.0,
        "meets_target": ratio <= 3.0,
    })


if __name__ == "__main__":
    main()
