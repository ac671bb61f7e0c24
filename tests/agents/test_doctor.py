"""metawsm doctor reports the real CLIs (versions, credentials present — never values); apply refuses a CLI
older than the version the built-in profile is tested with, before any side effect."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.agents.conftest import PINNED, agent_plan
from tests.engine.conftest import project  # noqa: F401 - fixture

pytestmark = [pytest.mark.agents]


def test_doctor_names_versions_and_which_credentials_are_set(cli, agent_cli,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    agent_cli("claude")
    agent_cli("codex")
    secret = "sk-never-print-this-value-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    result = cli("doctor", "--json", cwd=tmp_path)
    assert secret not in result.out + result.err
    data = json.loads(result.out)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["claude: version"]["ok"] and PINNED["claude"] in checks["claude: version"]["detail"]
    assert checks["codex: version"]["ok"] and PINNED["codex"] in checks["codex: version"]["detail"]
    assert "ANTHROPIC_API_KEY" in checks["claude: environment"]["detail"]
    assert checks["claude: login"]["ok"] and checks["codex: login"]["ok"] and checks["metawsm mcp"]["ok"]
    assert result.code == 0 and data["ok"] is True
    monkeypatch.delenv("OPENAI_API_KEY")
    missing = cli("doctor", cwd=tmp_path)
    assert missing.code == 1 and "BAD  codex: login" in missing.out and "OPENAI_API_KEY is not set" in missing.out


def test_apply_refuses_a_cli_older_than_the_tested_version(project: Path, cli, tmp_path: Path,  # type: ignore[no-untyped-def]  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old-codex"
    old.mkdir()
    (old / "codex").write_text("#!/bin/sh\necho 'codex-cli 0.40.0'\n", encoding="utf-8")  # an older install
    (old / "codex").chmod(0o755)
    monkeypatch.setenv("PATH", f"{old}{os.pathsep}{os.environ['PATH']}")
    from metawsm.agents import versions

    versions.installed.cache_clear()
    result = cli("apply", str(agent_plan(project, "old", "codex")), cwd=project)
    versions.installed.cache_clear()
    assert result.code != 0
    assert f"codex 0.40.0 is older than {PINNED['codex']}" in result.err and "npm install" in result.err
    assert not (project / ".metawsm" / "workspaces" / "DEMO-1").exists()  # refused before any side effect
