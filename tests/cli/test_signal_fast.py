"""`metawsm signal completion|validation` through the console entry's fast path (metawsm/cli/signal_fast.py):
what it imports, that its log lines are the full path's, that the index catches up on them, the log's
writer rules under concurrency and a torn tail, and every case it hands to the full command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metawsm.cli import signal_fast
from metawsm.errors import MetawsmError
from metawsm.forum import Forum
from metawsm.forum.log import EventLog

ROOT = Path(__file__).resolve().parents[2]
# modules the fast path may add to a bare interpreter's (`-X importtime` names them)
ALLOWED = {"__future__", "metawsm", "metawsm.cli", "metawsm.cli.entry", "metawsm.cli.signal_fast", "fcntl",
           "_json", "time"}
CTX = {"METAWSM_RUN": "r1", "METAWSM_TICKET": "ABC-1", "METAWSM_AGENT": "impl", "METAWSM_ATTEMPT": "2"}
TID = "fctrl-r1-abc-1-impl"


@pytest.fixture
def home(repo: Path) -> Path:
    subprocess.run([sys.executable, "-m", "metawsm", "-C", str(repo), "init"], check=True, capture_output=True,
                   timeout=60)
    return repo


def signal(home: Path, *args: str, env: dict[str, str] | None = None,
           importtime: bool = False) -> subprocess.CompletedProcess[str]:
    """`metawsm signal ARGS` as an agent runs it (the installed script's entry; run given by flag so that
    no background reconcile starts)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("METAWSM_")}
    environ.update({"METAWSM_HOME": str(home), **CTX, "METAWSM_RUN": "elsewhere", **(env or {})})
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), str(ROOT / "scripts" / "metawsm"),
            "signal", *args]
    return subprocess.run(argv, cwd=home, env=environ, capture_output=True, text=True, timeout=60)


def imports(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def events(home: Path) -> list[dict[str, object]]:
    path = home / ".metawsm" / "state" / "forum" / "events.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fast_path_imports_nothing_heavy_and_writes_the_event(home: Path) -> None:
    first = signal(home, "completion", "--run", "r1", "--summary", "one")  # opens the thread: full path
    assert first.returncode == 0, first.stderr
    floor = imports(subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True,
                                   text=True, timeout=60, check=True).stderr)
    r = signal(home, "completion", "--run", "r1", "--summary", "two", importtime=True)
    assert r.returncode == 0 and r.stdout == f"completion recorded (#3 in {TID})\n", r.stderr
    extra = imports(r.stderr) - floor - ALLOWED
    assert extra == set(), f"signal completion imported {sorted(extra)}"  # no re, json, sqlite3, orjson, argparse
    r = signal(home, "validation", "--run", "r1", "--status", "Passed", "--done-criteria", "tests pass",
               "--sha", "ABCDEF1", importtime=True)
    assert r.returncode == 0 and "#4" in r.stdout and imports(r.stderr) - floor - ALLOWED == set()
    assert [e["sequence"] for e in events(home)] == [1, 2, 3, 4]


def test_fast_lines_are_the_full_paths_and_the_index_catches_up(home: Path) -> None:
    assert signal(home, "completion", "--run", "r1", "--summary", "full").returncode == 0
    assert signal(home, "completion", "--run", "r1", "--summary", "fast é \"q\"\n\t").returncode == 0
    _opened, full, fast = events(home)
    assert list(fast) == list(full)  # same fields in the same order
    assert {k: type(v) for k, v in fast.items()} == {k: type(v) for k, v in full.items()}
    assert fast["payload"]["summary"] == "fast é \"q\"\n\t" and fast["correlation_id"] == fast["event_id"]
    assert len(fast["event_id"]) == 26 and fast["occurred_at"].endswith("Z")
    assert EventLog(home / ".metawsm" / "state" / "forum" / "events.jsonl").scan() == (3, [])
    forum = Forum(home / ".metawsm" / "state" / "forum")
    try:
        state = forum.control_state("r1", "ABC-1/impl", 2)
        assert state.completion == ("fast é \"q\"\n\t", 3)
        thread = forum.read(lambda c: c.execute("SELECT COUNT(*) FROM events WHERE thread_id = ?",
                                                (TID,)).fetchone()[0])
        assert thread == 3
    finally:
        forum.shutdown()


def test_concurrent_signals_number_the_log_contiguously(home: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("METAWSM_")}
    environ.update({"METAWSM_HOME": str(home), **CTX, "METAWSM_RUN": "elsewhere"})
    procs = []
    for i in range(12):  # fast and full (--json) writers race, the first ones for the thread's opening
        extra = ["--json"] if i % 3 == 0 else []
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "scripts" / "metawsm"), "signal", "completion",
                                       "--run", "r1", "--summary", f"s{i}", *extra], cwd=home, env=environ,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    log = events(home)
    assert [e["sequence"] for e in log] == list(range(1, 14))
    assert [e["event_type"] for e in log].count("forum.thread.opened") == 1
    assert sorted(e["payload"]["summary"] for e in log[1:]) == sorted(f"s{i}" for i in range(12))


def test_a_torn_tail_and_a_bad_last_line_are_handled_as_the_log_writer_does(home: Path) -> None:
    assert signal(home, "completion", "--run", "r1").returncode == 0
    path = home / ".metawsm" / "state" / "forum" / "events.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"sequence":9,"not":"an event"}\n{"sequence":3,"event_id":"torn')  # bad line, torn tail
    r = signal(home, "completion", "--run", "r1", "--summary", "after")
    assert r.returncode == 0 and "#10 " in r.stdout, r.stdout + r.stderr  # the taken number is passed over
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b'"torn' not in raw
    count, problems = EventLog(path).scan()
    assert count == 3 and [p.line for p in problems] == [3]  # the hand-made line, reported and skipped


@pytest.mark.parametrize(("args", "env", "code", "text"), [
    (("completion", "--run", "r1"), {"METAWSM_ATTEMPT": ""}, 2, "METAWSM_ATTEMPT is not set"),
    (("completion", "--run", "r1"), {"METAWSM_ATTEMPT": "0"}, 2, "out of range"),
    (("completion", "--run", "r1", "--summary", "x" * 70_000), {}, 1, "larger than forum.max_body_bytes"),
    (("validation", "--run", "r1", "--status", "passed", "--done-criteria", "\u3000\ufeff", "--sha", "abcdef1"),
     {}, 2, "done_criteria"),
    (("validation", "--run", "r1", "--status", "ok", "--done-criteria", "x", "--sha", "abcdef1"), {}, 2,
     "status"),
    (("validation", "--run", "r1", "--status", "passed", "--done-criteria", "x", "--sha", "xyz"), {}, 2, "sha"),
    (("completion", "--run", "r\x01"), {}, 2, "control characters"),
    (("completion", "--run", "r1", "--bogus"), {}, 2, "unrecognized arguments"),
])
def test_what_the_fast_path_refuses_gets_the_full_commands_message(
        home: Path, args: tuple[str, ...], env: dict[str, str], code: int, text: str) -> None:
    assert signal(home, "completion", "--run", "r1").returncode == 0  # the thread exists
    r = signal(home, *args, env=env)
    assert r.returncode == code and text in r.stderr, r.stdout + r.stderr
    assert len(events(home)) == 2  # nothing written


def test_an_idempotent_retry_and_json_take_the_full_path(home: Path) -> None:
    assert signal(home, "completion", "--run", "r1").returncode == 0
    for _ in range(2):
        r = signal(home, "completion", "--run", "r1", "--idempotency-key", "k1", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["event"]["envelope"]["idempotency_key"] == "k1"
    assert len(events(home)) == 3
    r = signal(home, "validation", "--run", "r1", "--status", "failed", "--done-criteria", "x")  # sha from git
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=home, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert r.returncode == 0 and events(home)[-1]["payload"]["sha"] == head


def test_a_thread_far_back_in_the_log_goes_to_the_full_path(home: Path) -> None:
    assert signal(home, "completion", "--run", "r1").returncode == 0
    forum = Forum(home / ".metawsm" / "state" / "forum")
    try:
        t = forum.open_thread("ABC-2", "filler", "x", actor_type="human", actor_name="me")
        for _ in range(20):  # 20 x 60 kB: the control thread's last event is more than 1 MiB back
            forum.post(t.thread_id, "y" * 60_000, actor_type="human", actor_name="me")
    finally:
        forum.shutdown()
    r = signal(home, "completion", "--run", "r1", "--summary", "late", importtime=True)
    assert r.returncode == 0 and "metawsm.cli.main" in imports(r.stderr), r.stdout
    log = events(home)
    assert log[-1]["payload"]["summary"] == "late" and log[-1]["sequence"] == len(log)
    assert [e["event_type"] for e in log].count("forum.thread.opened") == 2  # the control and the filler thread


# characters where the rules differ: blanks of str.isspace and of ECMA-262, control characters, a BOM
TRICKY = st.text(st.sampled_from(["a", "Z", "0", "/", " ", "\t", "\n", "\x1c", "\x7f", "\x85", "\xa0", "\u2028",
                                  "\u3000", "\ufeff", "\udc80", "-", "é"]), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(run=TRICKY, ticket=TRICKY, agent=TRICKY, attempt=st.sampled_from(["1", "0", "7", "1000001", "x", " 2"]),
       summary=st.none() | TRICKY, status=st.sampled_from(["passed", " FAILED ", "ok", ""]), done=TRICKY,
       sha=st.sampled_from(["abcdef1", "ABCDEF12", "abc", "g" * 7, "a" * 65]), ctype=st.sampled_from(
           ["completion", "validation"]))
def test_the_fast_path_accepts_only_what_the_full_path_accepts(run: str, ticket: str, agent: str, attempt: str,
                                                                summary: str | None, status: str, done: str,
                                                                sha: str, ctype: str) -> None:
    import argparse

    from metawsm.cli.signal import context
    from metawsm.forum import control
    from metawsm.forum.bounds import MAX_AGENT_KEY, check_name
    from metawsm.forum.threads import check_body

    flags = {"run": run, "ticket": ticket, "agent": agent, "attempt": attempt}
    if ctype == "completion" and summary is not None:
        flags["summary"] = summary
    if ctype == "validation":
        flags.update({"status": status, "done-criteria": done, "sha": sha})
    ctx = signal_fast._context(flags)
    fast = signal_fast._payload(ctype, flags, ctx) if ctx else None
    try:
        args = argparse.Namespace(**{f"ctx_{k}": flags[k] for k in ("run", "ticket", "agent", "attempt")})
        full_ctx = context(args)
        fields = {"summary": flags.get("summary"), "status": status.strip().lower() if status else None,
                  "done_criteria": done, "sha": sha.strip().lower()} if ctype == "validation" else {
                  "summary": flags.get("summary")}
        payload = control.build(ctype, full_ctx["run"], full_ctx["agent"], full_ctx["attempt"], **fields)
        for name in ("summary", "output_tail"):
            if payload.get(name):
                check_body(payload[name], 65536, what=name, required=False)
        check_name(ticket, "ticket")
        check_name(full_ctx["agent"], "actor_name", max_len=MAX_AGENT_KEY)
        for value in payload.values():
            if isinstance(value, str):
                value.encode("utf-8")
    except (MetawsmError, UnicodeEncodeError):
        payload = None
    if fast is not None:  # what the fast path writes, the full path would have written
        assert payload == fast
