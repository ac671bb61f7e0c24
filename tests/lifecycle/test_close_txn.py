"""Close as a transaction, fault by fault: an interrupted close is rolled back or finished by looking at git;
the changelog line is written into the merge commit without following symlinks; an ignored local file is never
overwritten; a failed branch deletion is a warning; a multi-repo ticket is checked in every repo before any merge
and a later failure says which repos merged."""

from __future__ import annotations

import json
from pathlib import Path

from metawsm.engine import closegit
from metawsm.state.tickets import CloseIntent
from tests.conftest import git
from tests.engine.conftest import commit_all, engine, project  # noqa: F401 - fixture
from tests.lifecycle._tickets import ticket_states
from tests.lifecycle.test_close import done  # noqa: F401 - fixture

WT = Path(".metawsm/workspaces")


def _merges(root: Path, ticket: str) -> int:
    return sum(1 for s in git(root, "log", "--format=%s", "main").splitlines() if s.startswith(f"Merge metawsm/{ticket} ("))


def _record_intent(root: Path, ticket: str) -> closegit.Prepared:
    """What a close killed right after recording its intent leaves behind (the commit built, the ref unmoved)."""
    eng = engine(root)
    try:
        (run,) = eng.store.list_runs()
        p = closegit.prepare("self", str(root), f"metawsm/{ticket}", "main", "merge",
                             f"Merge metawsm/{ticket} ({ticket}: by hand)", (ticket, f"- closed {ticket}"))
        eng.store.record_close_intents(run.run_id, ticket, [CloseIntent(
            ticket, "self", run.run_id, p.repo_root, p.checkout, p.strategy, p.branch, p.base_branch, p.ticket_sha,
            p.base_sha, p.merge_sha, 0.0)])
        return p
    finally:
        eng.close()


def test_interrupted_before_git_moved_is_rolled_back(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _record_intent(done, "DEMO-1")
    assert ticket_states(done)["DEMO-1"] == "closing"
    assert json.loads(cli("status", "--json", cwd=done).out)["runs"][0]["ticket_states"][0]["status"] == "closing"
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 0, result.err
    assert "rolled back an interrupted close" in result.out
    assert _merges(done, "DEMO-1") == 1 and ticket_states(done)["DEMO-1"] == "merged"


def test_interrupted_after_git_moved_is_finished(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    p = _record_intent(done, "DEMO-1")
    closegit.advance(p)  # the merge happened; the process died before recording it
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 0, result.err
    assert "finished an interrupted close" in result.out
    assert _merges(done, "DEMO-1") == 1 and ticket_states(done)["DEMO-1"] == "merged"
    assert not (done / WT / "DEMO-1").exists() and git(done, "status", "--porcelain") == ""
    assert cli("close", "--ticket", "DEMO-1", cwd=done).out.count("already merged") == 1  # and again: a no-op
    assert _merges(done, "DEMO-1") == 1


def _recheck(root: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """After a commit on a ticket branch: apply re-runs that ticket's checks (its branch moved)."""
    result = cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=root)
    assert result.code == 0, result.out + result.err


def test_symlinked_changelog_on_the_branch_never_writes_outside(done: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    outside = tmp_path / "outside.md"
    outside.write_text("not yours\n")
    wt = done / WT / "DEMO-1"
    (wt / "tickets").mkdir(exist_ok=True)
    (wt / "tickets" / "DEMO-1.changelog.md").symlink_to(outside)
    commit_all(wt, "a symlinked changelog")
    _recheck(done, cli)
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 0, result.err
    assert outside.read_text() == "not yours\n"
    entry = git(done, "ls-tree", "main", "tickets/DEMO-1.changelog.md").split()
    assert entry[0] == "100644"  # a regular file in the merge commit
    log = done / "tickets" / "DEMO-1.changelog.md"
    assert not log.is_symlink() and "closed by metawsm: merged metawsm/DEMO-1" in log.read_text()


def test_ignored_local_file_is_never_overwritten(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    (done / ".gitignore").write_text("local.cfg\n")
    commit_all(done, "ignore local.cfg")
    (done / "local.cfg").write_text("mine\n")
    wt = done / WT / "DEMO-1"
    (wt / "local.cfg").write_text("the branch's\n")
    commit_all(wt, "add local.cfg")
    _recheck(done, cli)
    before = git(done, "rev-parse", "main")
    result = cli("close", "--ticket", "DEMO-1", cwd=done)
    assert result.code == 1 and "would overwrite local file(s)" in result.err and "local.cfg" in result.err
    assert (done / "local.cfg").read_text() == "mine\n" and git(done, "rev-parse", "main") == before
    assert ticket_states(done)["DEMO-1"] == "ready"


def test_branch_deletion_failure_is_a_warning(done: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    git(done, "worktree", "add", "-q", "-f", str(tmp_path / "elsewhere"), "metawsm/DEMO-1")  # branch held elsewhere
    result = cli("close", "--ticket", "DEMO-1", "--json", cwd=done)
    assert result.code == 0, result.err
    (closed,) = json.loads(result.out)["closed"]
    assert closed["merged_sha"] and any("could not delete branch metawsm/DEMO-1" in w for w in closed["warnings"])
    assert ticket_states(done)["DEMO-1"] == "merged"


def test_detached_head_in_the_main_checkout(done: Path, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    git(done, "checkout", "-q", "--detach", "HEAD~1")
    result = cli("close", cwd=done)
    assert result.code == 0, result.err
    assert _merges(done, "DEMO-1") == 1 and _merges(done, "DEMO-2") == 1
    assert "metawsm/DEMO" not in git(done, "branch", "--list")


def _two_repo_project(project: Path, tmp_path: Path, cli) -> Path:  # type: ignore[no-untyped-def]  # noqa: F811
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q", "-b", "main")
    (lib / "lib.txt").write_text("lib\n")
    commit_all(lib, "lib")
    policy = project / ".metawsm/policy.yaml"  # (checks run in the ticket folder, not a repo: gate without them)
    policy.write_text(policy.read_text() + f"repos:\n  lib:\n    path: {lib}\n"
                      "close:\n  required_checks: [clean_tree, completion, forbidden_files]\n")
    ticket = project / "tickets" / "DEMO-1.yaml"
    ticket.write_text(ticket.read_text() + "repos: [self, lib]\n")
    (project / "plans" / "one.yaml").write_text(
        "name: one\ntickets: [DEMO-1]\nagents:\n  - name: w\n    profile: shell\n"
        "    run: cd {{ workspace.repos.self | shquote }} && mkdir -p demo && echo hi > demo/DEMO-1.txt"
        " && git add demo && git commit -qm DEMO-1 && metawsm signal completion --summary ok\n")
    commit_all(project, "two repos")
    assert cli("apply", "plans/one.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    lib_wt = Path(json.loads(engine(project).store.list_steps(engine(project).store.list_runs()[0].run_id)[0]
                             .fields_json)["repos"]["lib"]["path"])
    (lib_wt / "lib.txt").write_text("from the ticket\n")
    commit_all(lib_wt, "ticket change in lib")
    return lib


def test_multi_repo_checks_every_repo_before_merging_any(project: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    lib = _two_repo_project(project, tmp_path, cli)
    (lib / "lib.txt").write_text("conflicting\n")
    commit_all(lib, "conflict on lib main")
    before = git(project, "rev-parse", "main")
    result = cli("close", "--ticket", "DEMO-1", cwd=project)
    assert result.code == 1 and "merge conflict in lib.txt" in result.err
    assert git(project, "rev-parse", "main") == before  # self was not merged either
    git(lib, "reset", "-q", "--hard", "HEAD~1")
    assert cli("close", "--ticket", "DEMO-1", cwd=project).code == 0
    assert (project / "demo" / "DEMO-1.txt").exists() and (lib / "lib.txt").read_text() == "from the ticket\n"
    assert "tickets/DEMO-1.changelog.md" not in git(lib, "ls-files")  # the changelog lives in the primary repo


def test_multi_repo_later_failure_names_the_merged_repos(project: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    lib = _two_repo_project(project, tmp_path, cli)
    lock = lib / ".git" / "index.lock"
    lock.write_text("")  # lib's checkout cannot be updated: its fast-forward fails after self merged
    result = cli("close", "--ticket", "DEMO-1", cwd=project)
    assert result.code == 1
    assert "close of DEMO-1: merged into self; lib failed" in result.err
    assert ticket_states(project)["DEMO-1"] == "closing" and _merges(project, "DEMO-1") == 1
    lock.unlink()
    result = cli("close", "--ticket", "DEMO-1", cwd=project)
    assert result.code == 0, result.err
    assert "already merged into: self" in result.out
    assert _merges(project, "DEMO-1") == 1 and (lib / "lib.txt").read_text() == "from the ticket\n"
    assert ticket_states(project)["DEMO-1"] == "merged"
    assert git(lib, "status", "--porcelain") == ""
