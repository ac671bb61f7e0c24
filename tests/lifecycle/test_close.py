"""gate, close and cleanup on real git and tmux: nothing unvalidated is merged, nothing is ever lost."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import git
from tests.engine.conftest import commit_all, engine, project  # noqa: F401 - fixture

WT = Path(".metawsm/workspaces")


@pytest.fixture
def done(project: Path, cli) -> Path:  # type: ignore[no-untyped-def]  # noqa: F811
    """The demo applied to completion: both tickets' gates pass."""
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project)
    assert result.code == 0, result.out + result.err
    return project


def snapshot(root: Path) -> str:
    """Refs, worktrees, files, state.db and the forum log — once no background reconcile (kicked by the
    agents' signals) holds a lease, and without the lease rows: a lease is who is working now, not state."""
    deadline = time.monotonic() + 60
    while True:
        db = subprocess.run(["sqlite3", str(root / ".metawsm/state/state.db"), ".dump"], capture_output=True,
                            text=True).stdout
        if "INSERT INTO leases " not in db or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    db = "\n".join(line for line in db.splitlines() if not line.startswith("INSERT INTO leases "))
    return "\n".join([git(root, "for-each-ref"), git(root, "worktree", "list", "--porcelain"),
                      git(root, "status", "--porcelain", "--ignored"), db,
                      (root / ".metawsm/state/forum/events.jsonl").read_text()])


def test_gate_passes_then_refuses_a_dirty_worktree_naming_the_files(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("gate", cwd=done).code == 0
    (done / WT / "DEMO-1" / "scratch.txt").write_text("x")
    result = cli("gate", "--ticket", "DEMO-1", "--json", cwd=done)
    assert result.code == 3
    (gate,) = json.loads(result.out)["gates"]
    failed = {c["name"]: c for c in gate["checks"] if not c["passed"]}
    assert list(failed) == ["clean_tree"] and failed["clean_tree"]["details"] == ["scratch.txt"]


def test_commit_after_validation_is_refused(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    wt = done / WT / "DEMO-2"
    (wt / "more.txt").write_text("more\n")
    commit_all(wt, "unvalidated change")
    result = cli("gate", "--ticket", "DEMO-2", "--json", cwd=done)
    assert result.code == 3
    (gate,) = json.loads(result.out)["gates"]
    (failed,) = [c for c in gate["checks"] if not c["passed"]]
    assert failed["name"] == "validation" and "validation was for" in failed["reason"]
    assert cli("close", "--ticket", "DEMO-2", cwd=done).code == 3  # close re-checks the gate


def test_forbidden_file_on_the_branch_is_refused(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    wt = done / WT / "DEMO-1"
    (wt / "server.pem").write_text("secret\n")
    commit_all(wt, "oops")
    gate = json.loads(cli("gate", "--ticket", "DEMO-1", "--json", cwd=done).out)["gates"][0]
    names = {c["name"] for c in gate["checks"] if not c["passed"]}
    assert "forbidden_files" in names


def test_close_dry_run_changes_nothing(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(done)
    result = cli("close", "--dry-run", "--json", cwd=done)
    assert result.code == 0
    assert [c["dry_run"] for c in json.loads(result.out)["closed"]] == [True, True]
    assert snapshot(done) == before


def test_close_merges_records_and_cleans(done: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("close", "--json", cwd=done)
    assert result.code == 0, result.err
    assert [c["ticket"] for c in json.loads(result.out)["closed"]] == ["DEMO-1", "DEMO-2"]
    assert (done / "demo" / "DEMO-1.txt").exists() and (done / "demo" / "DEMO-2.txt").exists()
    assert "closed by metawsm: merged metawsm/DEMO-1 into main (merge" in (done / "tickets/DEMO-1.changelog.md").read_text()
    # the changelog line is in the merge commit itself, not in a second commit
    assert git(done, "log", "--format=%s", "-1").startswith("Merge metawsm/DEMO-2")
    assert "tickets/DEMO-2.changelog.md" in git(done, "show", "--name-only", "--format=", "-m", "--first-parent", "HEAD")
    assert git(done, "status", "--porcelain") == ""
    assert "metawsm/DEMO" not in git(done, "branch", "--list")
    assert not (done / WT / "DEMO-1").exists()
    eng = engine(done)
    (run,) = eng.store.list_runs()
    assert run.status == "closed" and set(eng.store.closed_tickets(run.run_id)) == {"DEMO-1", "DEMO-2"}
    threads = eng.forum.list_threads(ticket="DEMO-1")
    assert any(t.title == "DEMO-1 closed" and t.state == "closed" for t in threads)
    sessions = subprocess.run(["tmux", "-L", tmux_socket, "ls"], capture_output=True, text=True).stdout
    assert "demo-DEMO" not in sessions


@pytest.mark.parametrize("strategy", ["squash", "ff-only"])
def test_close_strategies(project: Path, cli, strategy: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + f"close:\n  merge: {strategy}\n")
    commit_all(project)
    write = project / "plans" / "one.yaml"
    write.write_text((project / "plans/demo.yaml").read_text().replace("name: demo", "name: one")
                     .replace("[DEMO-1, DEMO-2]", "[DEMO-1]"))
    commit_all(project)
    assert cli("apply", "plans/one.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    assert cli("close", cwd=project).code == 0
    subjects = git(project, "log", "--format=%s", "-3", "main").splitlines()
    if strategy == "squash":  # one commit: the squashed work with its changelog line
        assert subjects[:2] == ["Merge metawsm/DEMO-1 (DEMO-1: Write the greeting file)", "update"]
        assert git(project, "rev-list", "--merges", "--count", "main").strip() == "0"
        files = git(project, "show", "--name-only", "--format=", "main").split()
        assert sorted(files) == ["demo/DEMO-1.txt", "tickets/DEMO-1.changelog.md"]
    else:
        assert subjects[:2] == ["DEMO-1: closed by metawsm (changelog)", "DEMO-1: Write the greeting file"]


def test_merge_conflict_leaves_everything_as_it_was(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (done / "demo").mkdir()
    (done / "demo" / "DEMO-1.txt").write_text("a different greeting\n")
    commit_all(done, "conflicting change on main")
    before = snapshot(done)
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 1 and "merge conflict in demo/DEMO-1.txt" in result.err
    assert "nothing was changed" in result.err
    assert snapshot(done) == before


def test_close_refuses_when_base_checkout_is_dirty(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (done / "README.md").write_text("edited\n")
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 1 and "main is checked out" in result.err and "uncommitted changes" in result.err


def test_cleanup_refuses_to_lose_work_and_lists_it(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (done / WT / "DEMO-1" / "wip.txt").write_text("wip")
    result = cli("cleanup", cwd=done)
    assert result.code == 1
    assert "DEMO-1: self: uncommitted wip.txt" in result.err
    assert "1 commit(s) on metawsm/DEMO-2 not merged into main" in result.err
    assert (done / WT / "DEMO-1").exists() and "metawsm/DEMO-1" in git(done, "branch", "--list")
    assert cli("cleanup", "--keep-workspaces", cwd=done).code == 0
    assert (done / WT / "DEMO-1" / "wip.txt").exists()


def test_cleanup_force_removes_everything(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    eng = engine(done)
    (run,) = eng.store.list_runs()
    assert cli("cleanup", "--run", run.run_id, "--force", cwd=done).code == 0
    assert not (done / WT / "DEMO-1").exists() and "metawsm/DEMO" not in git(done, "branch", "--list")
