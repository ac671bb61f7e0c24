"""Reading usage from the CLIs' record formats (as Claude Code 2.1.197 and codex-cli 0.171.0 write them; the
real CLIs are in tests/agents/test_usage.py): each message counted once, the attempt's time window, a resumed
conversation's copied history, torn lines and other worktrees' records left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from metawsm.agents import usage

CWD = "/work/repo/.metawsm/workspaces/DEMO-1"
T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC).timestamp()


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def claude_line(mid: str, at: float, inp: int, out: int, read: int = 0, write: int = 0) -> str:
    return json.dumps({"type": "assistant", "timestamp": stamp(at), "cwd": CWD, "message": {
        "id": mid, "role": "assistant", "usage": {"input_tokens": inp, "output_tokens": out,
                                                  "cache_read_input_tokens": read,
                                                  "cache_creation_input_tokens": write}}})


def test_claude_counts_each_message_once_inside_the_attempts_window(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    folder = usage.claude_projects(env, CWD)
    folder.mkdir(parents=True)
    (folder / "first.jsonl").write_text("\n".join([
        claude_line("m1", 1, 100, 10),                     # attempt 1
        claude_line("m2", 50, 200, 20, read=7, write=3),  # attempt 2 …
        claude_line("m2", 50, 200, 20, read=7, write=3),  # … the same message's second content block
        json.dumps({"type": "user", "timestamp": stamp(51)}),
        '{"type": "assistant", "timest',                   # a line being written
    ]) + "\n", encoding="utf-8")
    # a resumed conversation: the old messages again (later stamps), then a new one
    (folder / "resumed.jsonl").write_text("\n".join([
        claude_line("m1", 60, 100, 10), claude_line("m3", 70, 300, 30)]) + "\n", encoding="utf-8")
    other = usage.claude_projects(env, CWD + "-other")
    other.mkdir(parents=True)
    (other / "x.jsonl").write_text(claude_line("o1", 55, 999, 999) + "\n", encoding="utf-8")
    for path in (*folder.iterdir(), *other.iterdir()):  # the files changed after the attempts started
        path.touch()
    assert usage.claude_usage(env, CWD, T0 + 40) == usage.Usage(500, 50, 7, 3, 0, 2, None)
    assert usage.claude_usage(env, CWD, T0, T0 + 40) == usage.Usage(100, 10, 0, 0, 0, 1, None)
    assert usage.claude_usage(env, CWD + "-none", T0) == usage.Usage()


def test_claude_print_mode_cost_sums_its_result_lines(tmp_path: Path) -> None:
    log = tmp_path / "impl.1.log"
    result = {"type": "result", "subtype": "success", "total_cost_usd": 0.0125, "usage": {"input_tokens": 3}}
    log.write_text("\x1b[0m" + json.dumps(result, separators=(",", ":")) + "\r\nnoise\r\n"
                   + json.dumps({**result, "total_cost_usd": 0.5}, separators=(",", ":")) + "\r\n"
                   + '{"type":"result","total_cost_usd":', encoding="utf-8")  # the last one torn
    assert usage.claude_cost(log) == 0.5125
    assert usage.claude_cost(tmp_path / "missing.log") is None
    assert usage.read("claude", {"HOME": str(tmp_path)}, CWD, T0, log=log) == usage.Usage(cost_usd=0.5125)


def codex_rollout(path: Path, cwd: str, records: list[tuple[str, float, int, int, int]]) -> None:
    lines = [json.dumps({"timestamp": stamp(0), "type": "session_meta", "payload": {"id": "t1", "cwd": cwd}})]
    for rid, at, inp, cached, out in records:
        lines.append(json.dumps({"timestamp": stamp(at), "type": "token_usage_record", "payload": {
            "response_id": rid, "usage": {"input_tokens": inp, "cached_input_tokens": cached,
                                          "cache_write_input_tokens": 0, "output_tokens": out,
                                          "reasoning_output_tokens": 1, "total_tokens": inp + out}}}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_codex_sums_its_token_usage_records_of_this_worktree(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    day = tmp_path / ".codex" / "sessions" / "2026" / "11" / "30"
    codex_rollout(day / "rollout-a.jsonl", CWD, [("r1", 1, 100, 40, 10), ("r2", 50, 200, 0, 20),
                                                 ("r2", 50, 200, 0, 20)])  # a record seen twice
    codex_rollout(day / "rollout-b.jsonl", "/elsewhere", [("x", 55, 999, 0, 999)])
    assert usage.codex_usage(env, CWD, T0) == usage.Usage(300, 30, 40, 0, 2, 2, None)
    assert usage.codex_usage(env, CWD, T0 + 10) == usage.Usage(200, 20, 0, 0, 1, 1, None)
    assert usage.read("shell", env, CWD, T0) is None
