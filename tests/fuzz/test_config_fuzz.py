"""Random and mutated YAML for tickets, plans and policy: the loader always answers with located
diagnostics (exit 2) or a valid config — never any other exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metawsm.config import loader
from metawsm.config.project import Project
from metawsm.config.scaffold import DEMO_TICKETS, shipped_plan

pytestmark = pytest.mark.fuzz
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SEEDS = {
    "tickets/DEMO-1.yaml": DEMO_TICKETS["DEMO-1"],
    "plans/demo.yaml": shipped_plan("demo"),
    ".metawsm/policy.yaml": "tmux:\n  socket_name: x\nclose:\n  merge: squash\n  required_checks: [clean_tree]\n",
}

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                         st.sampled_from(["~", "yes", "no", "2024-01-01", "0x1f", ".inf", "!!binary AAA", "&a", "*a"]))


def mutate(text: str, data: st.DataObject) -> str:
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["delete", "duplicate", "indent", "replace", "insert", "tab", "truncate"]))
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = [""]
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = " " * data.draw(st.integers(1, 5)) + lines[i]
        elif op == "replace":
            key, _, _ = lines[i].partition(":")
            lines[i] = f"{key}: {data.draw(yaml_scalars)!s}"
        elif op == "insert":
            lines.insert(i, data.draw(st.text(max_size=30)))
        elif op == "tab":
            lines[i] = "\t" + lines[i]
        else:
            cut = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut]
    return "\n".join(lines) + "\n"


def check(root: Path, rel: str, content: bytes) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    config, diags = loader.check(Project(root))
    assert (config is None) == bool(diags)
    for d in diags:
        assert d.file and d.message, d
        assert d.line >= 0 and d.col >= 0


@pytest.mark.parametrize("rel", sorted(SEEDS))
@SETTINGS
@given(data=st.data())
def test_mutated_yaml_is_answered_with_diagnostics(rel: str, data: st.DataObject, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("fuzz")
    (root / "tickets").mkdir()
    (root / "tickets" / "DEMO-1.yaml").write_text(DEMO_TICKETS["DEMO-1"])
    (root / "tickets" / "DEMO-2.yaml").write_text(DEMO_TICKETS["DEMO-2"])
    check(root, rel, mutate(SEEDS[rel], data).encode())


@pytest.mark.parametrize("rel", ["tickets/ABC-1.yaml", "plans/p.yaml", ".metawsm/policy.yaml"])
@SETTINGS
@given(content=st.binary(max_size=300))
def test_random_bytes_are_answered_with_diagnostics(rel: str, content: bytes, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    check(tmp_path_factory.mktemp("fuzz"), rel, content)


json_like = st.recursive(yaml_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)), max_leaves=12)


@pytest.mark.parametrize("rel", ["tickets/ABC-1.yaml", "plans/p.yaml", ".metawsm/policy.yaml"])
@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(["id", "title", "name", "tickets", "agents", "goal", "repos", "steps",
                                            "checks", "close", "tmux", "operator", "workspace", "x"]),
                           json_like, max_size=6))
def test_random_documents_are_answered_with_diagnostics(rel: str, doc: dict, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    import yaml

    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return
    check(tmp_path_factory.mktemp("fuzz"), rel, text.encode())
