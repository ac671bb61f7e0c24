"""Issue 15, bounds: every integer and name that reaches the log or SQLite is range-checked at the
edge (nothing written), and the log reader skips and reports a bad line instead of failing for good."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from metawsm.errors import UsageError
from metawsm.forum import Forum
from metawsm.forum.bounds import MAX_INT

HUMAN = {"actor_type": "human", "actor_name": "me"}
BIG = str(MAX_INT + 1)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / ".metawsm").mkdir(parents=True)
    monkeypatch.setenv("METAWSM_HOME", str(root))
    return root


def _log(home: Path) -> Path:
    return home / ".metawsm" / "state" / "forum" / "events.jsonl"


def _thread(cli) -> str:  # type: ignore[no-untyped-def]
    r = cli("forum", "ask", "--ticket", "ABC-1", "--title", "T", "--body", "b", "--actor-type", "human",
            "--actor-name", "me", "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)["thread"]["thread_id"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("argv", [
    ("forum", "seen", "{tid}", "--viewer", "human:me", "--sequence", BIG),
    ("signal", "completion", "--run", "r1", "--ticket", "ABC-1", "--agent", "a", "--attempt", BIG),
    ("signal", "completion", "--run", "r1", "--ticket", "ABC-1", "--agent", "a", "--attempt", "0"),
    ("forum", "watch", "--once", "--cursor", BIG),
    ("forum", "list", "--limit", BIG),
    ("forum", "list", "--limit", "0"),
    ("forum", "watch", "--once", "--interval", "nan"),
])
def test_out_of_range_integer_is_refused_and_nothing_written(cli, home: Path, argv: tuple[str, ...]) -> None:
    """Issue 15: `forum seen --sequence 2**63` (or `signal --attempt 2**63`) was written to the log and
    every later forum command failed with OverflowError."""
    tid = _thread(cli)
    before = _log(home).read_bytes()
    r = cli(*[a.format(tid=tid) for a in argv])
    assert r.code == 2 and "out of range" in r.err and "Traceback" not in r.err
    assert _log(home).read_bytes() == before
    assert cli("forum", "list").code == 0 and cli("forum", "reindex").code == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("thread_id", "../../api/v1/runs", "not a thread id"),
    ("thread_id", "fthr-a\n", "not a thread id"),
    ("actor_name", "x" * 402, "longer than 401"),
    ("actor_name", "me\n", "control characters"),
    ("idempotency_key", "k" * 201, "longer than 200"),
    ("ticket", "T" * 201, "longer than 200"),
    ("run_id", "r\x1b]0;pwned\x07", "control characters"),
])
def test_names_and_ids_are_bounded(forum: Forum, field: str, value: str, message: str) -> None:
    args = {"ticket": "ABC-1", "title": "T", "body": "b", **HUMAN, field: value}
    with pytest.raises(UsageError, match=message):
        forum.open_thread(**args)
    assert forum.log.size() == 0


def test_seen_and_events_bounds_in_core(forum: Forum) -> None:
    t = forum.open_thread("ABC-1", "T", "b", **HUMAN)
    for bad in (MAX_INT + 1, -1):
        with pytest.raises(UsageError, match="last_seen_event_sequence"):
            forum.mark_seen(t.thread_id, "human", "me", bad)
        with pytest.raises(UsageError, match="cursor"):
            forum.events(bad)
    with pytest.raises(UsageError, match="attempt"):
        forum.signal("r1", "ABC-1", "a", MAX_INT + 1, "completion")
    assert forum.events(MAX_INT)[0] == [] and forum.log.last_sequence() == 1


def test_a_hand_written_huge_integer_does_not_disable_the_forum(forum: Forum) -> None:
    """A line written by someone else (another version, a hand edit) with a sequence or payload
    integer past 2^63 is skipped; reads, writes, reindex and signals go on."""
    t = forum.open_thread("ABC-1", "T", "b", **HUMAN)
    good = orjson.loads(forum.log.path.read_bytes().splitlines()[0])
    seen = {**good, "sequence": 2, "event_type": "forum.thread.seen",
            "payload": {"viewer_type": "human", "viewer_id": "me", "last_seen_event_sequence": MAX_INT + 1}}
    with forum.log.path.open("ab") as fh:
        fh.write(orjson.dumps(seen) + b"\n")
        fh.write(orjson.dumps({**good, "sequence": MAX_INT + 1}) + b"\n")
    f = Forum(forum.dir)
    assert [x.thread_id for x in f.list_threads()] == [t.thread_id]
    f.post(t.thread_id, "after", **HUMAN)
    f.signal("r1", "ABC-1", "a", 1, "completion")
    assert f.reindex() == 4
    assert [p.line for p in f.log.scan()[1]] == [2, 3]
    f.shutdown()


def test_duplicated_line_is_detected_not_counted(forum: Forum) -> None:
    """Issue 15: a duplicated log line was accepted silently and counted the post twice."""
    t = forum.open_thread("ABC-1", "T", "b", **HUMAN)
    forum.post(t.thread_id, "second", **HUMAN)
    lines = forum.log.path.read_bytes().splitlines(keepends=True)
    forum.log.path.write_bytes(b"".join([lines[0], lines[1], lines[1]]))
    forum.index.path.unlink()
    f = Forum(forum.dir)
    assert f.get_thread(t.thread_id)[0].posts_count == 2
    problems = f.log.scan()[1]
    assert [(p.line, p.offset) for p in problems] == [(3, len(lines[0]) + len(lines[1]))]
    assert "repeats" in problems[0].why
    f.post(t.thread_id, "third", **HUMAN)
    assert f.get_thread(t.thread_id)[0].posts_count == 3
    f.shutdown()


def test_torn_tail_is_read_around(forum: Forum) -> None:
    """Issue 15: a torn last line (a full disk) made `/` and `/forum` answer 400 until the next write."""
    forum.open_thread("ABC-1", "T", "b", **HUMAN)
    with forum.log.path.open("ab") as fh:
        fh.write(b'{"sequence": 2, "event_id": "tor')
    f = Forum(forum.dir)
    assert f.log.last_sequence() == 1 and len(f.list_threads()) == 1
    assert [p.why.split(":")[0] for p in f.log.scan()[1]] == ["torn tail"]
    f.shutdown()


def test_doctor_reports_offsets_and_quarantines(cli, home: Path) -> None:
    tid = _thread(cli)
    log = _log(home)
    first = log.read_bytes()
    with log.open("ab") as fh:
        fh.write(b'{"sequence": 3}\n')
        fh.write(first)  # a duplicated line
    r = cli("forum", "doctor", "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert [(p["line"], p["offset"]) for p in report["problems"]] == [(2, len(first)), (3, len(first) + 16)]
    r = cli("forum", "reindex", "--json")
    assert r.code == 0 and [s["line"] for s in json.loads(r.out)["skipped"]] == [2, 3]
    r = cli("forum", "doctor", "--quarantine", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert log.read_bytes() == first
    assert Path(report["quarantined"]).read_bytes() == b'{"sequence": 3}\n' + first
    assert Path(report["backup"]).read_bytes() == first + b'{"sequence": 3}\n' + first
    assert cli("forum", "doctor").code == 0
    assert cli("forum", "post", tid, "--body", "x", "--actor-type", "human", "--actor-name", "me").code == 0


def _metawsm(home: Path, *argv: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "metawsm", *argv]
    return subprocess.run([*(wrap or []), *cmd], cwd=home, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "METAWSM_HOME": str(home)})


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare (a private mount namespace)")
@pytest.mark.parametrize("mount", ["ro", "full"])
def test_read_only_or_full_state_is_a_clear_error(home: Path, mount: str) -> None:
    """Issue 15: read-only state and a full disk surfaced as "internal error" (exit 3, empty crash.log)."""
    state = home / ".metawsm" / "state"
    assert _metawsm(home, "forum", "ask", "--ticket", "ABC-1", "--title", "T", "--body", "b",
                    "--actor-type", "human", "--actor-name", "me").returncode == 0
    if mount == "ro":
        setup = f"mount --bind {state} {state} && mount -o remount,bind,ro {state}"
        body = "b"
    else:
        setup = f"mount -t tmpfs -o size=64k tmpfs {state}"
        body = "x" * 60000
    script = (f"{setup} && exec {sys.executable} -m metawsm forum ask --ticket ABC-1 --title T "
              f"--body {body} --actor-type human --actor-name me")
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=home, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "METAWSM_HOME": str(home)})
    assert r.returncode == 1, r.stderr
    assert "internal error" not in r.stderr and "cannot" in r.stderr and str(state) in r.stderr
