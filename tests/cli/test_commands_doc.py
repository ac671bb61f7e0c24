"""docs/commands.md is generated from the argparse tree; this fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

from metawsm.cli.docgen import REGENERATE, generate
from metawsm.cli.main import COMMANDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def test_commands_doc_matches_the_parsers() -> None:
    assert DOC.exists(), f"docs/commands.md is missing: run `{REGENERATE}`"
    assert DOC.read_text(encoding="utf-8") == generate(), (
        f"docs/commands.md is stale (a command, option or description changed): run `{REGENERATE}`"
    )


def test_every_command_and_sub_command_has_a_section() -> None:
    text = generate()
    for name in COMMANDS:
        assert f"\n## metawsm {name}\n" in text, name
    for sub in ("metawsm forum answer", "metawsm signal completion"):
        assert f"\n### {sub}\n" in text, sub
    assert "| `--notify-cmd CMD` |" in text and "| `AGENT` |" in text


def test_generation_does_not_depend_on_the_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "40")
    narrow = generate()
    monkeypatch.setenv("COLUMNS", "250")
    assert generate() == narrow
