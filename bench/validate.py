"""`metawsm validate` over 1,000 ticket files against bare loops of the C YAML loader + a validator.

Both sides run as fresh processes (imports included) and, separately, in-process (no imports).
Processes are timed round-robin. Target: metawsm ≤ 1.1x the faster bare loop.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under PYTHONSAFEPATH=1 or -P

from _common import PY, ROOT, emit, measure_interleaved, median_ms, metawsm_exe, precompile, time_fn

BARE = textwrap.dedent("""\
    import json, sys, pathlib, yaml
    schema = json.load(open(sys.argv[1]))
    if sys.argv[2] == "rs":
        import jsonschema_rs
        check = jsonschema_rs.validator_for(schema).validate
    else:
        from jsonschema import Draft202012Validator
        check = Draft202012Validator(schema).validate
    for path in sorted(pathlib.Path(sys.argv[3]).glob("*.yaml")):
        check(yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader))
""")


def make_repo(root: Path, n: int) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    tickets = root / "tickets"
    tickets.mkdir()
    for i in range(n):
        (tickets / f"BENCH-{i}.yaml").write_text(
            f"id: BENCH-{i}\ntitle: Ticket number {i}\ngoal: |\n  Make change {i} happen.\n"
            f"done_criteria: [tests pass, docs updated]\nlabels: [bench, l{i % 7}]\npriority: normal\n",
            encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    precompile()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        make_repo(root, args.tickets)
        script = Path(tmp) / "bare.py"
        script.write_text(BARE, encoding="utf-8")
        schema = str(ROOT / "schemas" / "ticket.json")
        tickets = str(root / "tickets")
        # round-robin: load drift on a shared machine hits the three alike
        proc = measure_interleaved({"metawsm": [*metawsm_exe(), "-C", str(root), "validate"],
                                    "py": [PY, str(script), schema, "py", tickets],
                                    "rs": [PY, str(script), schema, "rs", tickets]}, runs=args.runs)
        (proc_metawsm, cpu_metawsm), (proc_py, _), (proc_rs, cpu_rs) = proc["metawsm"], proc["py"], proc["rs"]

        sys.path.insert(0, str(ROOT))
        import json

        import jsonschema_rs
        import yaml
        from jsonschema import Draft202012Validator

        from metawsm.config import loader
        from metawsm.config.project import Project

        schema_doc = json.loads(Path(schema).read_text())
        files = sorted(Path(tickets).glob("*.yaml"))
        py_check = Draft202012Validator(schema_doc).validate
        rs_check = jsonschema_rs.validator_for(schema_doc).validate
        in_py = time_fn(lambda: [py_check(yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)) for p in files])
        in_rs = time_fn(lambda: [rs_check(yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)) for p in files])
        in_metawsm = time_fn(lambda: loader.load(Project(root)))

    faster_proc = min(median_ms(proc_py), median_ms(proc_rs))
    faster_in = min(median_ms(in_py), median_ms(in_rs))
    emit("validate", {
        "tickets": args.tickets,
        "process_metawsm_validate_ms": median_ms(proc_metawsm),
        "process_bare_cyaml_jsonschema_ms": median_ms(proc_py),
        "process_bare_cyaml_jsonschema_rs_ms": median_ms(proc_rs),
        "process_ratio_vs_faster_bare": round(median_ms(proc_metawsm) / faster_proc, 2),
        "process_cpu_metawsm_validate_ms": median_ms(cpu_metawsm),
        "process_cpu_bare_cyaml_jsonschema_rs_ms": median_ms(cpu_rs),
        "process_cpu_ratio_vs_rs": round(median_ms(cpu_metawsm) / median_ms(cpu_rs), 2),
        "inprocess_metawsm_load_ms": median_ms(in_metawsm),
        "inprocess_bare_cyaml_jsonschema_ms": median_ms(in_py),
        "inprocess_bare_cyaml_jsonschema_rs_ms": median_ms(in_rs),
        "inprocess_ratio_vs_faster_bare": round(median_ms(in_metawsm) / faster_in, 2),
        "target_ratio": 1.1,
    })


if __name__ == "__main__":
    main()
