"""Token usage and cost of an agent's attempt, read from the AI CLIs' own records.

- Claude Code writes every assistant message, with the API's ``usage``, to its session transcript
  ``~/.claude/projects/<cwd with each non-alphanumeric character as '-'>/<session>.jsonl`` (one line per
  content block, so a message is counted once by its id). Its cost is only reported by print mode's result
  (``--output-format stream-json``: ``{"type": "result", "total_cost_usd": …}``), which lands in the attempt's
  transcript log; an interactive session reports tokens without a cost.
- Codex writes ``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`` (its first line names the session's cwd) with a
  ``token_usage_record`` per model response (``usage``, ``response_id``); Codex reports no cost.

An attempt's usage is what those records hold for its worktree between the attempt's start and the next
attempt's start; a message already recorded before the attempt started (a resumed conversation's history) is
not counted again. Numbers are the CLI's own: Claude Code counts cached input apart from ``input_tokens``,
Codex counts it inside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from metawsm.agents import cliconfig

MAX_FILES = 200  # newest transcript / rollout files looked at
MAX_LOG_BYTES = 8 * 1024 * 1024  # an attempt's pane log read for print mode's result lines
_RESULT = '{"type":"result"'


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None and other.cost_usd is None else round(
            (self.cost_usd or 0.0) + (other.cost_usd or 0.0), 10)
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens,
                     self.cache_write_tokens + other.cache_write_tokens,
                     self.reasoning_tokens + other.reasoning_tokens, self.requests + other.requests, cost)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def to_json(self) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
                "reasoning_tokens": self.reasoning_tokens, "total_tokens": self.total_tokens,
                "requests": self.requests, "cost_usd": self.cost_usd}


def _epoch(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue  # a line being written, or not JSON
                if isinstance(data, dict):
                    yield data
    except OSError:
        return


def _recent(paths: Iterator[Path], since: float) -> list[Path]:
    found = []
    for path in paths:
        try:
            if path.stat().st_mtime >= since - 1:
                found.append(path)
        except OSError:
            continue
    return sorted(found)[-MAX_FILES:]


def _window(first: dict[str, tuple[float, Usage]], since: float, until: float | None) -> Usage:
    total = Usage()
    for at, usage in first.values():
        if at >= since and (until is None or at < until):
            total = total + usage
    return total


def claude_projects(env: Mapping[str, str], cwd: str) -> Path:
    base = cliconfig.claude_config_path(env).parent
    root = base if env.get("CLAUDE_CONFIG_DIR") else base / ".claude"
    return root / "projects" / re.sub(r"[^A-Za-z0-9]", "-", cwd)


def claude_usage(env: Mapping[str, str], cwd: str, since: float, until: float | None = None) -> Usage:
    folder = claude_projects(env, cwd)
    if not folder.is_dir():
        return Usage()
    first: dict[str, tuple[float, Usage]] = {}  # message id -> (first time seen, its usage)
    for path in _recent(folder.rglob("*.jsonl"), since):
        for line in _lines(path):
            message = line.get("message")
            if line.get("type") != "assistant" or not isinstance(message, dict):
                continue
            usage, at, mid = message.get("usage"), _epoch(line.get("timestamp")), message.get("id")
            if not isinstance(usage, dict) or at is None or not isinstance(mid, str):
                continue
            if mid in first and first[mid][0] <= at:
                continue
            first[mid] = (at, Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")),
                                    _int(usage.get("cache_read_input_tokens")),
                                    _int(usage.get("cache_creation_input_tokens")), 0, 1))
    return _window(first, since, until)


def claude_cost(log: str | Path | None) -> float | None:
    """The sum of ``total_cost_usd`` of print mode's result lines in an attempt's transcript log."""
    if not log:
        return None
    try:
        with Path(log).open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - MAX_LOG_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    decoder = json.JSONDecoder()
    cost: float | None = None
    start = text.find(_RESULT)
    while start >= 0:
        try:
            data, end = decoder.raw_decode(text, start)
        except ValueError:
            end = start + len(_RESULT)
            data = None
        value = data.get("total_cost_usd") if isinstance(data, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            cost = (cost or 0.0) + float(value)
        start = text.find(_RESULT, end)
    return None if cost is None else round(cost, 10)


def codex_usage(env: Mapping[str, str], cwd: str, since: float, until: float | None = None) -> Usage:
    sessions = cliconfig.codex_config_path(env).parent / "sessions"
    if not sessions.is_dir():
        return Usage()
    first: dict[str, tuple[float, Usage]] = {}  # response id -> (time recorded, its usage)
    for path in _recent(sessions.glob("*/*/*/rollout-*.jsonl"), since):
        lines = _lines(path)
        meta = next(lines, {})
        if (meta.get("payload") or {}).get("cwd") != cwd:
            continue
        for line in lines:
            payload = line.get("payload")
            if line.get("type") != "token_usage_record" or not isinstance(payload, dict):
                continue
            usage, at, rid = payload.get("usage"), _epoch(line.get("timestamp")), payload.get("response_id")
            if not isinstance(usage, dict) or at is None or not isinstance(rid, str) or rid in first:
                continue
            first[rid] = (at, Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")),
                                    _int(usage.get("cached_input_tokens")),
                                    _int(usage.get("cache_write_input_tokens")),
                                    _int(usage.get("reasoning_output_tokens")), 1))
    return _window(first, since, until)


def read(cli: str | None, env: Mapping[str, str], cwd: str, since: float, until: float | None = None,
         log: str | Path | None = None) -> Usage | None:
    """The attempt's usage as ``cli`` recorded it; None for an agent that is no AI CLI."""
    if cli == "claude":
        usage = claude_usage(env, cwd, since, until)
        cost = claude_cost(log)
        return usage if cost is None else Usage(**{**usage.__dict__, "cost_usd": cost})
    if cli == "codex":
        return codex_usage(env, cwd, since, until)
    return None
