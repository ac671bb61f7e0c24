"""`metawsm push`, `metawsm pr` and policy `close.mode`: ticket branches pushed to a real bare remote behind the close
gate, pull requests opened through a fake `gh` put on PATH by the test (it records its argv and answers like gh's
`pr view BRANCH --json …` — exit 1 with `no pull requests found for branch "B"` when there is none — and `pr
create`, which prints the new pull request's URL; `pr view --json state,mergedAt,url` answers from the JSON file the
test rewrites to MERGED/OPEN/CLOSED, as the forge would). The real gh cannot reach a forge here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import engine, project, write_plan  # noqa: F401 - fixture

PLAN = """tickets: [DEMO-1]
agents:
  - name: impl
    profile: shell
    run: >-
      echo hello > hello.txt && git add hello.txt && git commit -q -m "DEMO-1: hello"
      && metawsm signal completion --summary "wrote hello.txt"
checks: ['test -s hello.txt']
"""

FAKE_GH = """#!{python}
import json, os, sys
from pathlib import Path
state = Path(os.environ["FAKE_GH_DIR"])
args = sys.argv[1:]
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["pr", "view"]:
    pr = state / ("pr-" + args[2].replace("/", "_") + ".json")
    if not pr.exists():
        sys.stderr.write('no pull requests found for branch "%s"\\n' % args[2])
        sys.exit(1)
    fields = args[args.index("--json") + 1].split(",")
    data = json.loads(pr.read_text())
    print(json.dumps({{k: data[k] for k in fields if k in data}}))
elif args[:2] == ["pr", "create"]:
    head, base = args[args.index("--head") + 1], args[args.index("--base") + 1]
    (state / "body.md").write_text(sys.stdin.read())
    url = "https://github.com/acme/widgets/pull/7"
    (state / ("pr-" + head.replace("/", "_") + ".json")).write_text(json.dumps(
        {{"url": url, "number": 7, "state": "OPEN", "isDraft": "--draft" in args, "baseRefName": base}}))
    print("Creating pull request for %s into %s in acme/widgets" % (head, base), file=sys.stderr)
    print(url)
else:
    sys.stderr.write("fake gh: unexpected arguments %r\\n" % (args,))
    sys.exit(2)
"""


@pytest.fixture
def published(project: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The demo project with a bare `origin`, a ready DEMO-1 and a fake gh first on PATH."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=project, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=project, check=True)
    write_plan(project, "pub", PLAN)
    assert cli("apply", "plans/pub.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    bin_dir, gh_dir = tmp_path / "fakebin", tmp_path / "gh-state"
    bin_dir.mkdir()
    gh_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable))
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_DIR", str(gh_dir))
    return {"remote": remote, "gh": gh_dir, "ws": project / ".metawsm/workspaces/DEMO-1"}


def _remote_sha(remote: Path, branch: str) -> str | None:
    r = subprocess.run(["git", "--git-dir", str(remote), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


def _calls(gh_dir: Path) -> list[list[str]]:
    path = gh_dir / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_push_is_refused_by_the_gate_then_accepted(project: Path, published: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ws, remote = published["ws"], published["remote"]
    (ws / "stray.txt").write_text("not committed\n")
    r = cli("push", "DEMO-1", cwd=project)
    assert r.code == 3 and "DEMO-1: the close gate refused: clean_tree: uncommitted or untracked files: stray.txt" in r.err
    assert _remote_sha(remote, "metawsm/DEMO-1") is None
    (ws / "stray.txt").unlink()
    r = cli("push", "DEMO-1", "--dry-run", cwd=project)
    assert r.code == 0 and "would push metawsm/DEMO-1 at " in r.out and _remote_sha(remote, "metawsm/DEMO-1") is None
    assert cli("hooks", "install", cwd=project).code == 0  # the push below also passes the pre-push gate hook
    r = cli("--json", "push", "DEMO-1", cwd=project)
    assert r.code == 0, r.err
    (pushed,) = json.loads(r.out)["pushed"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True).stdout.strip()
    assert pushed["pushed"] == [{"repo": "self", "branch": "metawsm/DEMO-1", "sha": head, "remote": "origin"}]
    assert _remote_sha(remote, "metawsm/DEMO-1") == head
    r = cli("push", cwd=project)  # no T: every ready ticket; pushing again changes nothing
    assert r.code == 0 and f"pushed metawsm/DEMO-1 at {head[:12]} to origin" in r.out
    r = cli("push", "DEMO-1", "--remote", "nope", cwd=project)
    assert r.code == 1 and "no git remote named 'nope'" in r.err
    eng = engine(project)
    assert eng.store.get_ticket("DEMO-1").status == "ready"  # nothing merged
    eng.close()


def test_pr_opens_once_then_reports_and_close_mode_pr(project: Path, published: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    gh_dir = published["gh"]
    r = cli("--json", "pr", "DEMO-1", "--draft", cwd=project)
    assert r.code == 0, r.err
    (made,) = json.loads(r.out)["pull_requests"]
    assert made == {"ticket": "DEMO-1", "run_id": made["run_id"], "branch": "metawsm/DEMO-1", "base": "main",
                    "url": "https://github.com/acme/widgets/pull/7", "number": 7, "state": "OPEN", "created": True,
                    "draft": True}
    view, create = _calls(gh_dir)
    assert view == ["pr", "view", "metawsm/DEMO-1", "--json", "url,number,state,isDraft,baseRefName"]
    title = create[create.index("--title") + 1]
    assert create == ["pr", "create", "--head", "metawsm/DEMO-1", "--base", "main", "--title", title,
                      "--body-file", "-", "--draft"]
    assert title.startswith("DEMO-1: ")
    body = (gh_dir / "body.md").read_text()
    assert "## Goal" in body and "## Done criteria" in body and "- **impl** (attempt 1): wrote hello.txt" in body
    assert "- validation: passed for " in body and "hello.txt | +1 -0" in body
    assert _remote_sha(published["remote"], "metawsm/DEMO-1")
    r = cli("pr", "DEMO-1", cwd=project)  # again: reported, not duplicated
    assert r.code == 0 and "pull request exists: https://github.com/acme/widgets/pull/7 (#7, open, draft)" in r.out
    assert [c[:2] for c in _calls(gh_dir)] == [["pr", "view"], ["pr", "create"], ["pr", "view"]]
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "close:\n  mode: pr\n")
    r = cli("close", "--ticket", "DEMO-1", cwd=project)
    assert r.code == 0 and "pull request exists: https://github.com/acme/widgets/pull/7" in r.out
    eng = engine(project)
    assert eng.store.get_ticket("DEMO-1").status == "in_review"  # close.mode pr merges nothing
    eng.close()
    assert subprocess.run(["git", "branch", "--list", "metawsm/DEMO-1"], cwd=project, capture_output=True,
                          text=True).stdout.strip()


def test_pr_without_gh_refuses_clearly(project: Path, published: dict[str, Path], cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "gh").exists())
    monkeypatch.setenv("PATH", path)
    assert shutil.which("gh") is None
    r = cli("pr", "DEMO-1", cwd=project)
    assert r.code == 1 and "`gh` (the GitHub CLI) is not installed or not on PATH" in r.err


def test_close_mode_push_pushes_instead_of_merging(project: Path, published: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "close:\n  mode: push\n")
    main_before = subprocess.run(["git", "rev-parse", "main"], cwd=project, capture_output=True, text=True).stdout
    r = cli("close", cwd=project)  # no selector: every ready ticket
    assert r.code == 0, r.err
    assert "DEMO-1" in r.out and "pushed metawsm/DEMO-1 at " in r.out
    assert _remote_sha(published["remote"], "metawsm/DEMO-1")
    assert subprocess.run(["git", "rev-parse", "main"], cwd=project, capture_output=True, text=True).stdout == main_before


def _pr_file(gh_dir: Path, **changes: object) -> None:
    path = gh_dir / "pr-metawsm_DEMO-1.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **changes)))


def _ticket(project: Path, cli) -> dict[str, str]:  # type: ignore[no-untyped-def]  # noqa: F811
    r = cli("status", "--all", "--json", cwd=project)
    assert r.code == 0, r.err
    return {t["ticket"]: t for run in json.loads(r.out)["runs"] for t in run["ticket_states"]}["DEMO-1"]


def test_pr_sync_follows_the_pull_request_to_closed_then_merged(project: Path, published: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    gh_dir, ws = published["gh"], published["ws"]
    policy = project / ".metawsm/policy.yaml"
    policy.write_text(policy.read_text() + "close:\n  mode: pr\n")
    assert cli("close", cwd=project).code == 0  # close.mode pr: the pull request is opened, the ticket in review
    assert _ticket(project, cli)["status"] == "in_review"
    human = cli("status", cwd=project)
    assert human.code == 0 and "in_review" in human.out
    r = cli("close", cwd=project)  # an in_review ticket is not closed again; status says what moves it on
    assert r.code == 0 and "metawsm pr --sync" in r.out and [c[:2] for c in _calls(gh_dir)].count(["pr", "create"]) == 1

    plan = cli("plan", "plans/pub.yaml", cwd=project)  # unchanged steps show the ticket's state
    assert plan.code == 0 and re.search(r"= gate:DEMO-1 .*in_review", plan.out), plan.out
    assert "merged or abandoned" not in plan.out
    assert cli("plan", "plans/pub.yaml", "--detailed-exitcode", cwd=project).code == 0
    write_plan(project, "pub", PLAN.replace("test -s hello.txt", "test -f hello.txt"))  # in review, still diffed
    changed = json.loads(cli("plan", "plans/pub.yaml", "--json", cwd=project).out)
    marks = [(c["mark"], c.get("settled")) for p in changed["plans"] for c in p["changes"]]
    assert marks and all(m == ("~", None) for m in marks), marks
    write_plan(project, "pub", PLAN)

    r = cli("--json", "pr", "--sync", cwd=project)  # still OPEN: nothing moves
    assert r.code == 0, r.err
    (synced,) = json.loads(r.out)["synced"]
    assert (synced["pr_state"], synced["status"]) == ("OPEN", "in_review")
    assert _calls(gh_dir)[-1] == ["pr", "view", "metawsm/DEMO-1", "--json", "state,mergedAt,url"]

    _pr_file(gh_dir, state="CLOSED")  # closed unmerged on the forge: back to ready, with the reason
    r = cli("pr", "--sync", "DEMO-1", cwd=project)
    assert r.code == 0 and "DEMO-1" in r.out and "pull request closed https://github.com/acme/widgets/pull/7; ticket ready" in r.out, r.out
    ticket = _ticket(project, cli)
    assert ticket["status"] == "ready" and "closed unmerged: https://github.com/acme/widgets/pull/7" in ticket["reason"]
    assert cli("pr", "--sync", cwd=project).out.strip() == "pr --sync: no ticket in review"

    (gh_dir / "pr-metawsm_DEMO-1.json").unlink()  # a new pull request, then merged on the forge
    assert cli("pr", "DEMO-1", cwd=project).code == 0 and _ticket(project, cli)["status"] == "in_review"
    _pr_file(gh_dir, state="MERGED", mergedAt="2026-12-01T01:00:00Z")
    r = cli("--json", "pr", "--sync", cwd=project)
    assert r.code == 0, r.err
    (synced,) = json.loads(r.out)["synced"]
    assert (synced["pr_state"], synced["status"], synced["merged_at"]) == ("MERGED", "merged", "2026-12-01T01:00:00Z")
    assert any(a.startswith("removed worktree") for a in synced["actions"]) and synced["warnings"] == []
    assert not ws.exists()  # the tidy a merge close does: worktree and branch gone, the run closed
    assert subprocess.run(["git", "branch", "--list", "metawsm/DEMO-1"], cwd=project, capture_output=True,
                          text=True).stdout.strip() == ""
    assert _ticket(project, cli)["status"] == "merged"
    runs = json.loads(cli("status", "--all", "--json", cwd=project).out)["runs"]
    assert [r["status"] for r in runs] == ["closed"]
    plan = cli("plan", "plans/pub.yaml", cwd=project)
    assert plan.code == 0 and "merged" in plan.out


def test_pr_sync_usage_and_gh_errors(project: Path, published: dict[str, Path], cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("pr", "--sync", "--draft", cwd=project).code == 2
    assert cli("pr", "DEMO-1", cwd=project).code == 0
    (published["gh"] / "pr-metawsm_DEMO-1.json").write_text("not json")  # the fake gh itself fails on it
    r = cli("pr", "--sync", "DEMO-1", cwd=project)
    assert r.code == 1 and "gh pr view metawsm/DEMO-1 failed (exit 1)" in r.err and "gh auth status" in r.err
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "gh").exists())
    monkeypatch.setenv("PATH", path)
    r = cli("--json", "pr", "--sync", cwd=project)  # several tickets: each failure reported
    assert r.code == 1 and "not installed or not on PATH" in json.loads(r.out)["failed"][0]["error"]
    assert _ticket(project, cli)["status"] == "in_review"
    assert cli("abandon", "DEMO-1", cwd=project).code == 0 and _ticket(project, cli)["status"] == "abandoned"
    assert cli("reopen", "DEMO-1", cwd=project).code == 0 and _ticket(project, cli)["status"] == "open"
