from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metawsm.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / ".metawsm").mkdir(parents=True)
    monkeypatch.setenv("METAWSM_HOME", str(root))
    return root


def _json(cli, *argv: str):
    r = cli(*argv, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_forum_commands_end_to_end(cli, home: Path) -> None:
    t = _json(cli, "forum", "ask", "--ticket", "ABC-1", "--title", "Which DB?", "--body", "sqlite?",
              "--priority", "high", "--actor-type", "agent", "--actor-name", "bot")["thread"]
    tid = t["thread_id"]
    assert list(t)[:3] == ["thread_id", "ticket", "run_id"] and t["priority"] == "high"
    assert _json(cli, "forum", "post", tid, "--body", "details")["thread"]["posts_count"] == 2
    assert _json(cli, "forum", "assign", tid, "--to", "human:bob")["thread"]["assignee_name"] == "bob"
    assert _json(cli, "forum", "state", tid, "triaged")["thread"]["state"] == "triaged"
    assert _json(cli, "forum", "priority", tid, "urgent")["thread"]["priority"] == "urgent"
    assert _json(cli, "forum", "answer", tid, "--body", "use sqlite")["thread"]["state"] == "answered"
    threads = _json(cli, "forum", "list", "--ticket", "ABC-1")["threads"]
    assert [x["thread_id"] for x in threads] == [tid]
    assert _json(cli, "forum", "search", "sqlite")["threads"][0]["thread_id"] == tid
    shown = _json(cli, "forum", "thread", tid)
    assert [p["body"] for p in shown["posts"]] == ["sqlite?", "details", "use sqlite"]
    assert set(shown["posts"][0]) == {"post_id", "thread_id", "event_id", "author_type", "author_name", "body",
                                      "created_at"}
    assert _json(cli, "forum", "stats")["stats"][0]["thread_count"] == 1
    assert _json(cli, "forum", "seen", tid, "--viewer", "human:al")["seen"]["last_seen_event_sequence"] > 0
    assert _json(cli, "forum", "queue", "unseen", "--viewer", "human:al")["threads"] == []
    assert _json(cli, "forum", "queue", "--type", "unseen", "--viewer", "human:al")["threads"] == []  # Go's name
    assert _json(cli, "forum", "queue", "--type", "unanswered")["threads"] == []  # answered
    assert "unanswered  open threads whose last non-system word came from an agent" in cli(
        "forum", "queue", "--help").out
    assert _json(cli, "forum", "close", tid)["thread"]["state"] == "closed"
    assert _json(cli, "forum", "reindex")["events"] >= 8
    r = cli("forum", "watch", "--once", "--json", "--cursor", "2")
    seqs = [json.loads(line)["sequence"] for line in r.out.splitlines()]
    assert seqs[0] == 3 and seqs == sorted(seqs)
    human = cli("forum", "list")
    assert tid in human.out and human.code == 0


@pytest.mark.parametrize(("argv", "code", "message"), [
    (("forum", "post", "nope", "--body", "x"), 1, "'nope' not found"),
    (("forum", "state", "{tid}", "new"), 1, "illegal transition answered -> new"),
    (("forum", "state", "{tid}", "bogus"), 2, "state 'bogus'"),
    (("forum", "assign", "{tid}", "--to", "bob"), 2, "KIND:NAME"),
    (("forum", "queue", "unseen"), 2, "needs a viewer"),
    (("forum", "queue"), 2, "which queue? KIND is unseen or unanswered"),
    (("forum", "queue", "unseen", "--type", "unanswered"), 2, "give one"),
    (("forum", "queue", "--type", "unread"), 2, "invalid choice: 'unread'"),
    (("forum",), 2, "sub-command is required"),
    (("signal", "completion"), 2, "METAWSM_RUN is not set"),
    (("signal", "validation", "--run", "r", "--ticket", "T-1", "--agent", "a", "--attempt", "1",
      "--status", "passed", "--done-criteria", "t", "--sha", "zz"), 2, "sha"),
    (("signal", "completion", "--run", "r", "--ticket", "T-1", "--agent", "a", "--attempt", "x"), 2,
     "attempt 'x'"),
])
def test_cli_errors(cli, home: Path, argv: tuple[str, ...], code: int, message: str) -> None:
    tid = _json(cli, "forum", "ask", "--ticket", "ABC-1", "--title", "T", "--body", "b")["thread"]["thread_id"]
    cli("forum", "answer", tid, "--body", "a")
    r = cli(*[a.replace("{tid}", tid) for a in argv])
    assert r.code == code, r.err
    assert message in r.err


def test_body_too_large_is_refused(cli, home: Path) -> None:
    (home / ".metawsm" / "policy.yaml").write_text("forum:\n  max_body_bytes: 10\n", encoding="utf-8")
    r = cli("forum", "ask", "--ticket", "ABC-1", "--title", "T", "--body", "x" * 11)
    assert r.code == 1 and "forum.max_body_bytes" in r.err


def test_signal_reads_environment(cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"METAWSM_RUN": "r1", "METAWSM_TICKET": "ABC-1", "METAWSM_AGENT": "a1",
                 "METAWSM_ATTEMPT": "3"}.items():
        monkeypatch.setenv(k, v)
    ev = json.loads(cli("signal", "completion", "--summary", "ok", "--json").out)["event"]
    env = ev["envelope"]  # --json gives events in the API's (Go metawsm's) shape
    assert env["actor_type"] == "agent" and env["actor_name"] == "ABC-1/a1"
    assert json.loads(ev["payload_json"])["attempt"] == 3
    ev = json.loads(cli("signal", "validation", "--status", "PASSED", "--done-criteria", "tests", "--sha",
                        "ABC1234", "--agent", "a2", "--json").out)["event"]
    env = ev["envelope"]
    assert env["agent_name"] == "ABC-1/a2" and json.loads(ev["payload_json"])["status"] == "passed"
    assert env["thread_id"] == "fctrl-r1-abc-1-a2"  # control threads are per (run, ticket/agent)


def _spawn(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "metawsm", *argv], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_terminals_converse_through_ask_and_answer(home: Path) -> None:
    env = {"METAWSM_RUN": "run-1", "METAWSM_TICKET": "ABC-1", "METAWSM_AGENT": "coder", "METAWSM_ATTEMPT": "1"}
    asker = _spawn(["ask", "Which database?", "--timeout", "30"], env, home)
    tid = "fctrl-run-1-abc-1-coder"
    deadline = time.monotonic() + 20
    answered = False
    while time.monotonic() < deadline and not answered:
        time.sleep(0.1)
        answered = main(["forum", "answer", tid, "--body", "Use SQLite."]) == 0
    out, err = asker.communicate(timeout=30)
    assert answered and asker.returncode == 0, err
    assert out == "Use SQLite.\n"


def test_ask_times_out_with_exit_4(home: Path) -> None:
    env = {"METAWSM_RUN": "run-1", "METAWSM_TICKET": "ABC-1", "METAWSM_AGENT": "coder", "METAWSM_ATTEMPT": "1"}
    p = _spawn(["ask", "anyone?", "--timeout", "0.5"], env, home)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 4 and out == "" and "no answer" in err


def test_signal_fast_path_imports_nothing_heavy(home: Path) -> None:
    env = {**os.environ, "METAWSM_RUN": "r", "METAWSM_TICKET": "ABC-1", "METAWSM_AGENT": "a",
           "METAWSM_ATTEMPT": "1"}
    code = ("import sys; from metawsm.cli.main import main; rc = main(['signal', 'completion']); "
            "bad = [m for m in ('rich', 'yaml', 'jsonschema', 'jinja2', 'git', 'urllib.request', 'asyncio') if m in sys.modules]; "
            "print(rc, bad)")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=home, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().endswith("0 []"), r.stdout + r.stderr
