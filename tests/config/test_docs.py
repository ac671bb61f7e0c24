"""docs/configuration.md is generated from the schemas; this fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

from metawsm.config.docgen import generate

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_matches_schemas() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), (
        "docs/configuration.md is stale: run `python -m metawsm.config.docgen > docs/configuration.md`"
    )


def test_every_schema_key_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in ("`operator.llm.mode`", "`close.required_checks`", "`agents[].prompt`", "`done_criteria`",
                "`workspace.setup.copy`", "`agent_profiles.<name>.command`", "`steps[].needs`"):
        assert key in text, key
