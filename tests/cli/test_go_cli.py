"""The Go metawsm's command lines (its diaries and scripts) against this metawsm: each invocation as the
Go README and diaries spell it, run through the real CLI. Aliases are documented in docs/commands.md."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result

GO_DEFAULT_POLICY = {  # the Go metawsm's `policy-init` output (reference §3.2), abridged to what maps
    "version": 2,
    "workspace": {"default_strategy": "create", "branch_prefix": "task", "base_branch": "main"},
    "docs": {"authority_mode": "workspace_active"},
    "tmux": {"session_pattern": "{agent}-{workspace}"},
    "execution": {"step_retries": 1},
    "health": {"idle_seconds": 300, "activity_stalled_seconds": 900, "progress_stalled_seconds": 1200},
    "operator": {"unhealthy_confirmations": 2, "restart_budget": 3, "restart_cooldown_seconds": 60,
                 "stale_run_age_seconds": 3600,
                 "llm": {"mode": "assist", "command": "codex", "model": "", "timeout_seconds": 30, "max_tokens": 400}},
    "forum": {"enabled": True, "redis": {"url": "redis://127.0.0.1:6379/0"}, "sla": {"escalation_minutes": 30},
              "docs_sync": {"enabled": True}},
    "git_pr": {"mode": "assist", "forbidden_file_patterns": [".env", "*.pem"]},
    "agent_profiles": [{"name": "default-shell", "runner": "shell", "base_prompt": "", "skills": None,
                        "runner_options": {"full_auto": False, "command": "bash"}}],
    "agents": [{"name": "agent", "profile": "default-shell"}],
}
TICKET = "id: METAWSM-001\ntitle: Core orchestrator\ngoal: build it\nrepos: [self]\n"


def ok(r: Result) -> dict[str, Any]:
    assert r.code == 0, (r.code, r.err)
    return json.loads(r.out) if r.out.strip().startswith("{") else {}


@pytest.fixture
def proj(repo: Path, cli: Any) -> Path:
    assert cli("init", cwd=repo).code == 0
    return repo


def test_policy_init_writes_defaults_and_translates_a_go_policy(repo: Path, cli: Any) -> None:
    r = ok(cli("policy-init", "--json", cwd=repo))
    assert r["translated_from"] is None and (repo / ".metawsm" / "policy.yaml").is_file()
    assert cli("policy-init", cwd=repo).code == 1  # kept without --force
    (repo / ".metawsm" / "policy.json").write_text(json.dumps(GO_DEFAULT_POLICY))
    r = ok(cli("policy-init", "--force", "--json", cwd=repo))
    assert r["translated_from"].endswith("policy.json")
    assert {"docs", "tmux", "forum.enabled", "forum.redis", "git_pr.mode", "version"} <= set(r["dropped"])
    assert ok(cli("validate", "--json", cwd=repo)) is not None
    import yaml

    policy = yaml.safe_load((repo / ".metawsm" / "policy.yaml").read_text())
    assert policy["agent_profiles"]["agent"]["command"] == "bash"
    assert policy["workspace"] == {"branch_prefix": "task/", "base_branch": "main"}
    assert policy["close"]["forbidden_file_patterns"] == [".env", "*.pem"]
    assert policy["operator"]["llm"] == {"mode": "assist", "command": "codex", "timeout_seconds": 30, "max_tokens": 400}
    bad = cli("policy-init", "--path", ".metawsm/policy.json", "--force", cwd=repo)
    assert bad.code == 2 and "YAML" in bad.err


def test_go_forum_command_lines(proj: Path, cli: Any) -> None:
    t = ok(cli("forum", "ask", "--ticket", "METAWSM-001", "--title", "t", "--body", "b", "--actor-type", "agent",
               "--actor-name", "agent", "--run-id", "run-1", "--json", cwd=proj))["thread"]
    assert (t["opened_by_type"], t["opened_by_name"], t["run_id"]) == ("agent", "agent", "run-1")
    default = ok(cli("forum", "ask", "--ticket", "METAWSM-001", "--title", "t2", "--body", "b", "--json", cwd=proj))
    assert default["thread"]["opened_by_type"] == "agent"  # Go: ask defaults to agent
    tid = t["thread_id"]
    answered = ok(cli("forum", "answer", "--thread-id", tid, "--body", "yes", "--json", cwd=proj))["thread"]
    assert answered["last_post_by_type"] == "operator"  # Go: the others default to operator
    ok(cli("forum", "thread", "--thread-id", tid, cwd=proj))
    assert ok(cli("forum", "state", "--thread-id", tid, "--state", "waiting_human", "--json",
                  cwd=proj))["thread"]["state"] == "waiting_human"
    assert ok(cli("forum", "priority", "--thread-id", tid, "--priority", "high", "--json",
                  cwd=proj))["thread"]["priority"] == "high"
    a = ok(cli("forum", "assign", "--thread-id", tid, "--assignee", "alice", "--assignee-type", "human", "--json",
               cwd=proj))["thread"]
    assert (a["assignee_type"], a["assignee_name"]) == ("human", "alice")
    a = ok(cli("forum", "assign", "--thread-id", tid, "--assignee", "bob", "--json", cwd=proj))["thread"]
    assert (a["assignee_type"], a["assignee_name"]) == ("operator", "bob")  # Go's default assignee type
    listed = ok(cli("forum", "list", "--ticket", "METAWSM-001", "--run-id", "run-1", "--state", "waiting_human",
                    "--priority", "high", "--assignee", "bob", "--limit", "50", "--json", cwd=proj))["threads"]
    assert [x["thread_id"] for x in listed] == [tid]
    sig = ok(cli("forum", "signal", "--run-id", "run-1", "--ticket", "METAWSM-001", "--agent-name", "agent",
                 "--type", "guidance_request", "--question", "which port?", "--json", cwd=proj))
    env = sig["event"]["envelope"]
    assert env["actor_type"] == "operator" and env["thread_id"] == "fctrl-run-1-metawsm-001-agent"
    assert json.loads(sig["event"]["payload_json"])["attempt"] == 1
    bad = cli("forum", "signal", "--run-id", "run-1", "--ticket", "METAWSM-001", "--agent-name", "agent",
              "--type", "validation", "--status", "passed", cwd=proj)
    assert bad.code == 2 and "done_criteria" in bad.err
    debug = ok(cli("forum", "debug", "--ticket", "METAWSM-001", "--json", cwd=proj))["debug"]
    assert debug["bus"]["healthy"] is True and debug["outbox"]["pending_count"] == 0
    assert [c["thread_id"] for c in debug["control_threads"]] == ["fctrl-run-1-metawsm-001-agent"]
    page = cli("forum", "watch", "--ticket", "METAWSM-001", "--cursor", "0", "--limit", "2", "--json", cwd=proj)
    assert page.code == 0 and [json.loads(x)["sequence"] for x in page.out.splitlines()] == [1, 2]  # one-shot
    closed = ok(cli("forum", "close", "--thread-id", tid, "--json", cwd=proj))["thread"]
    assert closed["state"] == "closed"
    both = cli("forum", "state", tid, "new", "--state", "triaged", cwd=proj)
    assert both.code == 2 and "given twice" in both.err
    missing = cli("forum", "thread", cwd=proj)
    assert missing.code == 2 and "--thread-id" in missing.err


@pytest.mark.parametrize(("argv", "names"), [
    (["bootstrap", "--ticket", "T-1", "--repos", "x"], "metawsm run"),
    (["docs", "--refresh"], "tickets/"),
    (["auth", "check"], "metawsm gate"),
    (["review", "sync", "--run-id", "r"], "forum answer"),
])
def test_retired_go_verbs_say_what_replaces_them(proj: Path, cli: Any, argv: list[str], names: str) -> None:
    r = cli(*argv, cwd=proj)
    assert r.code == 2 and ("not part of this metawsm" in r.err or "not in this metawsm yet" in r.err)
    assert names in r.err
    assert "invalid choice" not in r.err


def test_bell_spellings(proj: Path, cli: Any) -> None:
    assert cli("watch", "--once", "--bell=false", cwd=proj).code != 2
    assert cli("watch", "--once", "--bell=true", cwd=proj).code != 2
    bad = cli("watch", "--once", "--bell=maybe", cwd=proj)
    assert bad.code == 2 and "--bell=true" in bad.err


def test_db_is_accepted_only_as_this_repository_store(proj: Path, cli: Any) -> None:
    assert cli("status", "--db", ".metawsm/metawsm.db", cwd=proj).code == 0
    r = cli("status", "--db", "/tmp/elsewhere.db", cwd=proj)
    assert r.code == 2 and "import-go" in r.err and ".metawsm/state" in r.err.replace(os.sep, "/")


def test_run_ids_are_accepted_as_run_id(proj: Path, cli: Any) -> None:
    for verb in ("status", "stop", "resume", "restart", "cleanup", "close", "merge", "commit", "watch", "gate"):
        r = cli(verb, "--run-id", "no-such-run", cwd=proj)
        assert r.code != 2 or "unrecognized" not in r.err, (verb, r.err)
    assert "--run-id" in cli("status", "--help", cwd=proj).out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_addr_colon_port_means_loopback(proj: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(proj), "serve", "--addr", f":{port}",
                             "--db", ".metawsm/metawsm.db"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as resp:
                    assert json.loads(resp.read())["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0].decode()
    assert f"on http://127.0.0.1:{port}" in out


def test_serve_refuses_another_db(proj: Path, cli: Any) -> None:
    r = cli("serve", "--addr", ":0", "--db", "other.db", cwd=proj)
    assert r.code == 2 and "import-go" in r.err


def test_forum_outside_a_repository_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     cli: Any) -> None:
    monkeypatch.delenv("METAWSM_HOME", raising=False)
    monkeypatch.delenv("METAWSM_SERVER", raising=False)
    empty = tmp_path / "nowhere"
    empty.mkdir()
    for argv in (["forum", "list"], ["forum", "ask", "--ticket", "T-1", "--title", "t", "--body", "b"],
                 ["status"], ["signal", "completion", "--run", "r", "--ticket", "T-1", "--agent", "a", "--attempt", "1"],
                 ["forum", "debug"]):
        r = cli(*argv, cwd=empty)
        assert r.code == 1, (argv, r.code, r.err)
        assert "metawsm init" in r.err and "--server" in r.err, r.err
    assert list(empty.iterdir()) == []


@pytest.mark.tmux
def test_go_run_status_stop_merge_commit(proj: Path, cli: Any) -> None:
    """`run` as the Go diaries type it, then the run-selector verbs with --run-id."""
    (proj / ".metawsm" / "policy.json").write_text(json.dumps(GO_DEFAULT_POLICY))
    ok(cli("policy-init", "--force", cwd=proj))
    (proj / "tickets" / "METAWSM-001.yaml").write_text(TICKET)
    dry = ok(cli("run", "--ticket", "METAWSM-001", "--repos", proj.name, "--agent", "agent", "--dry-run", "--json",
                 cwd=proj))
    assert dry["runs"][0]["dry_run"] is True and not (proj / "plans" / "run-metawsm-001.yaml").exists()
    unknown = cli("run", "--ticket", "METAWSM-001", "--agent", "nobody", cwd=proj)
    assert unknown.code == 2 and "profile" in unknown.err
    missing = cli("run", "--ticket", "NOPE-1", "--agent", "agent", cwd=proj)
    assert missing.code == 2 and "import-go" in missing.err
    base = cli("run", "--ticket", "METAWSM-001", "--agent", "agent", "--base-branch", "origin/develop", cwd=proj)
    assert base.code == 2 and "workspace.base_branch" in base.err
    started = ok(cli("run", "--ticket", "metawsm-001", "--agent", "agent", "--base-branch", "origin/main", "--json",
                     cwd=proj))
    run_id = started["runs"][0]["run_id"]
    assert (proj / "plans" / "run-metawsm-001.yaml").read_text().startswith("# Written by `metawsm run`")
    try:
        status = ok(cli("status", "--run-id", run_id, "--json", cwd=proj))
        assert [r["run_id"] for r in status["runs"]] == [run_id]
        worktree = next(json.loads(s["fields_json"])["path"] for s in _steps(proj, run_id) if s["kind"] == "workspace")
        Path(worktree, "notes.txt").write_text("work\n")
        dry_commit = ok(cli("commit", "--run-id", run_id, "--dry-run", "--json", cwd=proj))["commits"]
        assert dry_commit[0]["files"] == ["notes.txt"] and not dry_commit[0]["committed"]
        done = ok(cli("commit", "--run-id", run_id, "--message", "METAWSM-001: notes", "--actor", "me", "--json",
                      cwd=proj))["commits"]
        assert done[0]["committed"] and done[0]["sha"]
        log = subprocess.run(["git", "-C", worktree, "log", "-1", "--format=%s"], capture_output=True, text=True)
        assert log.stdout.strip() == "METAWSM-001: notes"
        merge = cli("merge", "--run-id", run_id, "--dry-run", "--human", cwd=proj)
        assert merge.code != 2, merge.err
    finally:
        assert cli("stop", "--run-id", run_id, cwd=proj).code == 0


def _steps(proj: Path, run_id: str) -> list[dict[str, Any]]:
    import sqlite3

    conn = sqlite3.connect(proj / ".metawsm" / "state" / "state.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM steps WHERE run_id = ?", (run_id,))]
    finally:
        conn.close()
