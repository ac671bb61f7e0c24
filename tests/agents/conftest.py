"""The real Claude Code and Codex CLIs against a scripted model (fakemodel.py), driven by real metawsm.

The CLIs come from npm (pinned in .ci/run): ``$METAWSM_AGENTS_BIN`` or ``/opt/metawsm-agents/node_modules/.bin``
or PATH. Without them these tests skip, naming what to install. HOME is the test's own (tests/conftest.py), so
every config file the CLIs or metawsm write lands there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agents.fakemodel import FakeModel
from tests.engine.conftest import commit_all, write_plan

PINNED = {"claude": "2.1.197", "codex": "0.171.0"}
DEFAULT_BIN = "/opt/metawsm-agents/node_modules/.bin"
CODEX_MODEL = "scripted-model"  # unknown to Codex: it falls back to its generic tool set (exec_command)


def cli_bin_dir(name: str) -> str | None:
    for folder in (os.environ.get("METAWSM_AGENTS_BIN"), DEFAULT_BIN):
        if folder and (Path(folder) / name).exists():
            return folder
    found = shutil.which(name)
    return str(Path(found).parent) if found else None


@pytest.fixture
def agent_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """``agent_cli("claude")``: puts the CLI's folder on PATH (the session inherits it); skips when absent."""

    def use(name: str) -> str:
        folder = cli_bin_dir(name)
        if folder is None:
            pytest.skip(f"{name} CLI not installed: npm install --prefix /opt/metawsm-agents "
                        f"@anthropic-ai/claude-code@{PINNED['claude']} @openai/codex@{PINNED['codex']} (.ci/run does)")
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
        return str(Path(folder) / name)

    return use


def use_model(name: str, model: FakeModel, monkeypatch: pytest.MonkeyPatch, home: Path, *,
              key: str | None = None) -> None:
    """Point the CLI at the scripted model the way a user points it at a provider: Claude Code through
    ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY, Codex through a model provider in ~/.codex/config.toml."""
    key = model.api_key if key is None else key
    if name == "claude":
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.base_url)
        if key:
            monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
    else:
        folder = home / ".codex"
        folder.mkdir(exist_ok=True)
        (folder / "config.toml").write_text(
            f'model = "{CODEX_MODEL}"\nmodel_provider = "scripted"\n\n'
            f'[model_providers.scripted]\nname = "scripted"\nbase_url = "{model.base_url}/v1"\n'
            'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\nsupports_websockets = false\n'
            "", encoding="utf-8")
        if key:
            monkeypatch.setenv("OPENAI_API_KEY", key)


def agent_plan(root: Path, name: str, profile: str, *, mode: str = "headless", permissions: str | None = None,
               prompt: str = "Do the ticket.", ticket: str = "DEMO-1", check: str = "test -f hello.txt") -> Path:
    body = (f"tickets: [{ticket}]\nagents:\n  - name: impl\n    profile: {profile}\n    mode: {mode}\n"
            f"    prompt: {json.dumps(prompt)}\n")
    if permissions:
        body += f"    permissions: {permissions}\n"
    body += f"checks: [{json.dumps(check)}]\n"
    return write_plan(root, name, body)


def status_agents(cli: Any, root: Path) -> dict[str, dict[str, Any]]:
    result = cli("status", "--json", "--all", cwd=root)
    data = json.loads(result.out)
    return {a["key"]: a for snap in data["runs"] for a in snap["agents"]}


def steps(cli: Any, root: Path) -> dict[str, dict[str, Any]]:
    result = cli("status", "--json", "--all", cwd=root)
    data = json.loads(result.out)
    return {s["step_id"]: s for snap in data["runs"] for s in snap.get("steps", [])}


__all__ = ["agent_plan", "commit_all", "status_agents", "use_model"]
