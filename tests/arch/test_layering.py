"""The package layering of DESIGN.md §2, read from the source with `ast`: imports point down the table and never
back up; forum, state and runtime import no other layer; nothing outside runtime/ imports tmux or libtmux; step
kinds import no verb; the engine has no import cycle; every module imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "metawsm"
# DESIGN.md §2, from the top layer down (agents/: the AI CLIs' profiles and MCP tools, used by the engine and the CLI)
ORDER = ("cli", "server", "operator", "engine", "agents", "gate", "plan", "config", "forum", "state", "runtime")
LEAVES = ("forum", "state", "runtime")  # "may import: —"
VERBS = ("apply", "close", "lifecycle", "cleanup", "reconcile", "registry", "snapshot")  # engine modules kinds never use


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every imported module name (top level, inside functions, under TYPE_CHECKING alike)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ORDER) else None


def test_imports_point_down_the_layer_table() -> None:
    wrong = []
    for name, path in modules().items():
        mine = layer(name)
        if mine not in ORDER:
            continue
        for line, target in imports(path):
            theirs = layer(target) if target.startswith("metawsm.") else None
            if theirs not in ORDER or theirs == mine:
                continue
            if ORDER.index(theirs) < ORDER.index(mine) or mine in LEAVES:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_no_tmux_outside_the_runtime() -> None:
    wrong = []
    for name, path in modules().items():
        if name.startswith("metawsm.runtime"):
            continue
        for line, target in imports(path):
            if "tmux" in target.lower():
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_step_kinds_import_no_verb() -> None:
    wrong = []
    for name, path in modules().items():
        if not name.startswith("metawsm.engine.kinds"):
            continue
        for line, target in imports(path):
            if any(target == f"metawsm.engine.{verb}" or target.startswith(f"metawsm.engine.{verb}.")
                   for verb in VERBS):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_the_engine_and_runtime_have_no_import_cycle() -> None:
    mods = modules()
    graph = {name: {t for _, t in imports(path) if t in mods and t != name} for name, path in mods.items()
             if name.startswith(("metawsm.engine", "metawsm.runtime"))}
    seen: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            assert seen.get(nxt) != 1, "import cycle: " + " -> ".join([*path[path.index(nxt):], nxt])
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for start in sorted(graph):
        if start not in seen:
            visit(start, [start])


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    names = [n for n in modules() if not n.endswith("__main__")]
    script = (
        "import importlib, sys\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'metawsm' or m.startswith('metawsm.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr



RAW_FIELDS = ("fields", "fields_json")  # a step's encoded fields: Step.fields (plan), state rows' fields_json
# plan.steps encodes and decodes them; plan.graph hashes, saves and loads the encoding; plan.diff/explain compare
# two encodings key by key without naming a key; state stores the text. Nothing else may touch them.
RAW_FIELD_OWNERS = ("metawsm.plan.steps", "metawsm.plan.graph", "metawsm.plan.diff", "metawsm.plan.explain")


def raw_field_violations(mods: dict[str, Path]) -> list[str]:
    """Every `x.fields` / `x.fields_json` (not `dataclasses.fields`) outside the owners."""
    wrong = []
    for name, path in mods.items():
        if name in RAW_FIELD_OWNERS or name.startswith("metawsm.state"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in RAW_FIELDS
                    and not (isinstance(node.value, ast.Name) and node.value.id == "dataclasses")):
                wrong.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return wrong


def test_no_module_outside_plan_steps_reads_raw_step_fields() -> None:
    """Steps are read through their typed record (`metawsm.plan.steps`), never by field name."""
    assert raw_field_violations(modules()) == []


INJECTED = ['def f(ref):\n    return ref.fields["command"]\n', 'def f(step):\n    return step.fields.get("cli")\n',
            'import json\ndef f(row):\n    return json.loads(row.fields_json or "{}")["tmux"]\n']


def test_the_raw_field_check_catches_a_violation(tmp_path: Path) -> None:
    for i, text in enumerate(INJECTED):
        bad = tmp_path / f"bad{i}.py"
        bad.write_text(text, encoding="utf-8")
        for name in ("metawsm.engine.bad", "metawsm.gate.bad", "metawsm.plan.bad"):
            assert len(raw_field_violations({name: bad})) == 1, (name, text)
    ok = tmp_path / "ok.py"
    ok.write_text("import dataclasses\ndef f(x):\n    return dataclasses.fields(x)\n", encoding="utf-8")
    assert raw_field_violations({"metawsm.engine.ok": ok}) == []
