"""What `metawsm doctor` finds about the AI CLIs: binaries and versions (against the tested ones), which
credentials and endpoints are set (never their values), the CLIs' own config files, and metawsm's MCP server."""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from metawsm.agents import cliconfig
from metawsm.agents.versions import TESTED, installed, problem
from metawsm.runtime import proc

CREDENTIALS = {"claude": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"),
               "codex": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME")}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cli_checks(cli: str, env: dict[str, str]) -> list[Check]:
    path = proc.which(cli)
    if path is None:
        return [Check(f"{cli}: binary", False, f"not on PATH (tested with {cli} {TESTED[cli]})")]
    version = installed(cli)
    trouble = problem(cli)
    checks = [Check(f"{cli}: binary", True, path),
              Check(f"{cli}: version", trouble is None,
                    trouble or f"{version} (tested with {TESTED[cli]})")]
    present = [name for name in CREDENTIALS[cli] if env.get(name)]
    checks.append(Check(f"{cli}: environment", True, "set: " + (", ".join(present) if present else "none")
                        + " (values never shown)"))
    if cli == "claude":
        config = cliconfig.claude_config_path(env)
        key = bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN"))
        checks.append(Check("claude: login", key or config.exists(),
                            "an API key is set" if key else (f"no key set; {config} exists (a login may be stored "
                                                             "there)" if config.exists() else
                                                             "no key set and no ~/.claude.json: export "
                                                             "ANTHROPIC_API_KEY or run `claude` once to log in")))
    else:
        config = cliconfig.codex_config_path(env)
        checks.append(_codex_provider(config, env))
    return checks


def _codex_provider(config: Path, env: dict[str, str]) -> Check:
    data: dict[str, Any] = {}
    if config.exists():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            return Check("codex: config", False, f"{config}: {exc}")
    provider = str(data.get("model_provider") or "openai")
    info = (data.get("model_providers") or {}).get(provider) or {}
    key_name = str(info.get("env_key") or "OPENAI_API_KEY")
    auth = (config.parent / "auth.json").exists()
    ok = bool(env.get(key_name)) or auth
    return Check("codex: login", ok, f"provider {provider}: " + (f"{key_name} is set" if env.get(key_name) else
                 ("auth.json present" if auth else f"{key_name} is not set and no `codex login`")))


def mcp_check() -> Check:
    try:
        from importlib.metadata import version

        found = version("mcp")
    except Exception as exc:
        return Check("metawsm mcp", False, f"the mcp SDK is missing: {exc}")
    return Check("metawsm mcp", True, f"mcp SDK {found}; agents start it as: python -m metawsm mcp")


def run_checks(env: dict[str, str] | None = None) -> list[Check]:
    env = dict(os.environ if env is None else env)
    checks: list[Check] = []
    for tool in ("git", "tmux"):
        path = proc.which(tool)
        checks.append(Check(tool, path is not None, path or "not on PATH"))
    for cli in ("claude", "codex"):
        checks += cli_checks(cli, env)
    checks.append(mcp_check())
    return checks
