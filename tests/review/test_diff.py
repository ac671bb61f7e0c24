"""metawsm diff on real git: golden human output (shas masked), --stat, --json, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from metawsm.runtime.gitdiff import _parse_raw_numstat, branch_diff
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, project  # noqa: F401 - fixture

WT = Path(".metawsm/workspaces")
SHA = re.compile(r"\b[0-9a-f]{12}\b|\b[0-9a-f]{7,40}\.\.[0-9a-f]{7,40}\b")


@pytest.fixture
def done(project: Path, cli) -> Path:  # type: ignore[no-untyped-def]  # noqa: F811
    """The demo applied to completion, then DEMO-1's branch gets a modification, a deletion, a rename and a
    binary file in a second commit."""
    assert cli("apply", "plans/demo.yaml", "--wait", "--timeout", "90", cwd=project).code == 0
    wt = project / WT / "DEMO-1"
    git(wt, "mv", "README.md", "README.txt")
    with (wt / "demo" / "DEMO-1.txt").open("a", encoding="utf-8") as fh:
        fh.write("reviewed line\n")
    (wt / "logo.bin").write_bytes(b"\x00\x01\x02binary")
    (wt / "esc.txt").write_text("bell \x1b]0;title\x07 here\n", encoding="utf-8")
    commit_all(wt, "Second change: rename, binary, more")
    return project


GOLDEN = """\
ticket DEMO-1 (RUN) · repo self: metawsm/DEMO-1 against main (merge-base SHA)
2 commits:
  SHA Second change: rename, binary, more
  SHA SUBJECT1
 README.md => README.txt |     0   (renamed)
 demo/DEMO-1.txt         |     2 ++   (added)
 esc.txt                 |     1 +   (added)
 logo.bin                | Bin   (added)
 4 files changed, 3 insertions(+), 0 deletions(-)
"""


def _mask(text: str, run_id: str, subject: str) -> str:
    return SHA.sub("SHA", text.replace(run_id, "RUN").replace(subject, "SUBJECT1"))


def test_diff_stat_golden_and_json(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("diff", "DEMO-1", "--json", cwd=done).out)
    (t,) = data["tickets"]
    (r,) = t["repos"]
    assert r["commits"][0]["subject"] == "Second change: rename, binary, more"
    files = {f["path"]: f for f in r["files"]}
    demo = files["demo/DEMO-1.txt"]
    assert demo | {"patch": ""} == {"path": "demo/DEMO-1.txt", "status": "added", "additions": 2,
                                    "deletions": 0, "binary": False, "patch": ""}
    assert demo["patch"].startswith("diff --git a/demo/DEMO-1.txt b/demo/DEMO-1.txt\nnew file mode")
    assert "+reviewed line\n" in demo["patch"]
    assert files["README.txt"]["status"] == "renamed"
    assert files["README.txt"]["old_path"] == "README.md"
    assert files["logo.bin"]["binary"] is True and files["logo.bin"]["additions"] is None
    assert r["base"] == git(done, "merge-base", "main", "metawsm/DEMO-1").strip()
    assert r["head"] == git(done, "rev-parse", "metawsm/DEMO-1").strip()
    assert t["files_changed"] == 4 and t["additions"] == 3
    stat = cli("diff", "DEMO-1", "--stat", cwd=done)
    assert stat.code == 0, stat.err
    assert _mask(stat.out, t["run_id"], r["commits"][1]["subject"]) == GOLDEN + "\n"
    assert all("patch" not in f for f in json.loads(cli("diff", "DEMO-1", "--stat", "--json", cwd=done).out)
               ["tickets"][0]["repos"][0]["files"])


def test_diff_patch_is_plain_when_piped_and_escapes_controls(done: Path) -> None:
    proc = run_metawsm("diff", "DEMO-1", cwd=done, env={"PAGER": "false"})
    assert proc.returncode == 0, proc.stderr
    expected_patch = git(done, "diff", "--no-color", "-M", "main...metawsm/DEMO-1")
    assert "\x1b" not in proc.stdout  # no colour codes when piped, and the ESC in esc.txt is shown escaped
    assert "+bell \\x1b]0;title\\x07 here\n" in proc.stdout
    assert expected_patch.replace("\x1b", "\\x1b").replace("\x07", "\\x07") in proc.stdout


def test_diff_without_ticket_lists_every_open_ticket(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("diff", "--json", cwd=done).out)
    assert [t["ticket"] for t in data["tickets"]] == ["DEMO-1", "DEMO-2"]
    assert [f["path"] for f in data["tickets"][1]["repos"][0]["files"]] == ["demo/DEMO-2.txt"]


def test_diff_errors(done: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("diff", "NOPE-1", cwd=done)
    assert r.code == 1 and "no run has ticket NOPE-1" in r.err
    git(done, "worktree", "remove", "--force", str(done / WT / "DEMO-2"))
    git(done, "branch", "-D", "metawsm/DEMO-2")
    r = cli("diff", "DEMO-2", cwd=done)
    assert r.code == 1 and "branch metawsm/DEMO-2 does not exist" in r.err


def test_parse_raw_numstat_with_renames_and_binaries() -> None:
    text = (":100644 100644 a b M\0x.py\0:100644 100644 a b R090\0old name\0new name\0"
            ":000000 100644 0 b A\0img.png\0" "3\t1\tx.py\0" "2\t0\t\0old name\0new name\0" "-\t-\timg.png\0")
    assert _parse_raw_numstat(text) == [("x.py", None, "M", 3, 1), ("new name", "old name", "R", 2, 0),
                                        ("img.png", None, "A", None, None)]


def test_branch_diff_on_a_plain_repo_with_odd_paths(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "topic")
    names = ["sp ace.txt", "tab\tname.txt", "new\nline.txt", "ünï.txt", "diff --git x.txt"]
    for n in names:
        (repo / n).write_text(f"{n}\ndiff --git a/b c/d\n", encoding="utf-8")
    commit_all(repo, "odd names")
    d = branch_diff(repo, "main", "topic")
    assert sorted(f.path for f in d.files) == sorted(names)
    for f in d.files:
        assert f.additions == 2 + f.path.count("\n") and f.patch.startswith("diff --git ")
        assert f.patch.count("\ndiff --git ") == 0 and "+diff --git a/b c/d\n" in f.patch
    assert [c.subject for c in d.commits] == ["odd names"]


def test_web_ui_diff_page_escapes_and_lists_commits(done: Path) -> None:
    from metawsm.config.loader import load_policy
    from metawsm.config.project import Project
    from metawsm.server.app import create_app
    from tests.server.conftest import LoopbackClient

    wt = done / WT / "DEMO-1"
    (wt / "evil.html").write_text("<script>alert(1)</script>\n", encoding="utf-8")
    commit_all(wt, "<b>bold subject</b>")
    proj = Project(done)
    with LoopbackClient(create_app(proj, load_policy(proj), worker=False), base_url="http://127.0.0.1") as client:
        run_id = json.loads(run_metawsm("status", "--json", cwd=done).stdout)["runs"][0]["run_id"]
        run_page = client.get(f"/runs/{run_id}")
        assert run_page.status_code == 200
        assert f'href="/runs/{run_id}/diff/DEMO-1"' in run_page.text
        page = client.get(f"/runs/{run_id}/diff/DEMO-1")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;b&gt;bold subject&lt;/b&gt;" in page.text  # the commit subject, escaped
        assert 'class="diff-add">+reviewed line</span>' in page.text
        assert "README.md → README.txt" in page.text
        assert client.get(f"/runs/{run_id}/diff/NOPE-1").status_code == 404
