"""Pre-answer the CLIs' first-run dialogs by writing their own config files, never by typing keys.

Claude Code keeps its state in ``~/.claude.json`` (``$CLAUDE_CONFIG_DIR/.claude.json`` when set): onboarding
done, this folder trusted, this API key approved (it stores the key's last 20 characters, never the whole
key). Codex keeps its config in ``~/.codex/config.toml`` (``$CODEX_HOME``): ``[projects."<path>"]
trust_level = "trusted"``. Both files are merged, never replaced: other keys and projects stay as they were.
Writes take a lock file beside the config and replace the file atomically, so agents started at once do not
lose each other's entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from metawsm.errors import ExternalError

KEY_SUFFIX = 20  # Claude Code remembers an approved key by its last 20 characters


def claude_config_path(env: Mapping[str, str]) -> Path:
    folder = env.get("CLAUDE_CONFIG_DIR")
    if folder:
        return Path(folder) / ".claude.json"
    return Path(env.get("HOME") or Path.home()) / ".claude.json"


def codex_config_path(env: Mapping[str, str]) -> Path:
    folder = env.get("CODEX_HOME")
    return Path(folder) / "config.toml" if folder else Path(env.get("HOME") or Path.home()) / ".codex" / "config.toml"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Path(f"{path}.metawsm-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace(path: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o600)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def claude_trust(env: Mapping[str, str], folders: list[str], *, bypass: bool) -> Path:
    """Mark onboarding done, ``folders`` trusted, the session's API key approved and (for bypass mode) the
    bypass warning accepted in Claude Code's own state file."""
    path = claude_config_path(env)
    try:
        with _locked(path):
            data: dict[str, Any] = {}
            if path.exists():
                try:
                    loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
                except ValueError as exc:
                    raise ExternalError(f"{path} is not valid JSON: {exc}",
                                        hint="fix or remove it; Claude Code recreates it") from exc
                data = loaded if isinstance(loaded, dict) else {}
            data["hasCompletedOnboarding"] = True
            data.setdefault("theme", "dark")
            if bypass:
                data["bypassPermissionsModeAccepted"] = True
            projects = data.setdefault("projects", {})
            for folder in folders:
                entry = projects.setdefault(folder, {})
                entry.update(hasTrustDialogAccepted=True, hasCompletedProjectOnboarding=True)
                entry.setdefault("allowedTools", [])
            key = env.get("ANTHROPIC_API_KEY") or ""
            if key:
                answers = data.setdefault("customApiKeyResponses", {})
                approved = answers.setdefault("approved", [])
                answers.setdefault("rejected", [])
                suffix = key[-KEY_SUFFIX:]
                if suffix not in approved:
                    approved.append(suffix)
                if suffix in answers["rejected"]:
                    answers["rejected"].remove(suffix)
            _replace(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise ExternalError(f"cannot write Claude Code's config {path}: {exc}") from exc
    return path


def _toml_key(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for the characters paths use


def codex_trust(env: Mapping[str, str], folders: list[str]) -> Path:
    """Add ``[projects."<folder>"] trust_level = "trusted"`` to Codex's config for each folder not yet there."""
    path = codex_config_path(env)
    try:
        with _locked(path):
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ExternalError(f"{path} is not valid TOML: {exc}", hint="fix it, then apply again") from exc
            projects = data.get("projects") or {}
            added = ""
            for folder in folders:
                if folder in projects:
                    continue
                added += f"\n[projects.{_toml_key(folder)}]\ntrust_level = \"trusted\"\n"
            if added:
                if text and not text.endswith("\n"):
                    text += "\n"
                try:
                    tomllib.loads(text + added)
                except tomllib.TOMLDecodeError as exc:
                    raise ExternalError(f"cannot add folder trust to {path}: {exc}",
                                        hint=f"add [projects.\"{folders[0]}\"] trust_level = \"trusted\" "
                                             "yourself") from exc
                _replace(path, text + added)
    except OSError as exc:
        raise ExternalError(f"cannot write Codex's config {path}: {exc}") from exc
    return path
