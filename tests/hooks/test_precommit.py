"""The pre-commit hook through real `git commit`: staged content validated, forbidden files refused."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from metawsm.gate.hooks import install
from tests.hooks.helpers import BAD_PLAN, GOOD_PLAN, TICKET, commit, sh, write

BAD_LINE = "plans/p.yaml:5:14: agents[0].profile: unknown profile 'shel'"


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo / "tickets" / "T-1.yaml", TICKET)
    assert commit(repo, "tickets/T-1.yaml").returncode == 0
    install(repo)
    return repo


def test_broken_plan_is_refused_with_file_line_and_fixed_plan_passes(project: Path) -> None:
    write(project / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    r = commit(project, "plans/p.yaml")
    assert r.returncode == 1
    assert "metawsm pre-commit: invalid metawsm files (staged content):" in r.stderr
    assert BAD_LINE in r.stderr
    assert " 5 |     profile: shel" in r.stderr
    assert "git commit --no-verify" in r.stderr and "metawsm close" in r.stderr
    assert sh(project, "rev-list", "--count", "HEAD").stdout.strip() == "2"  # nothing committed

    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    r = commit(project, "plans/p.yaml")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_staged_content_counts_not_the_working_tree(project: Path) -> None:
    plan = project / "plans" / "p.yaml"
    write(plan, BAD_PLAN.format(name="p"))
    sh(project, "add", "plans/p.yaml")
    write(plan, GOOD_PLAN.format(name="p"))  # fixed on disk, not staged
    r = commit(project)
    assert r.returncode == 1 and BAD_LINE in r.stderr

    sh(project, "add", "plans/p.yaml")
    write(plan, BAD_PLAN.format(name="p"))  # broken on disk, the staged version is good
    r = commit(project)
    assert r.returncode == 0, r.stderr


def test_commit_all_reads_git_temporary_index(project: Path) -> None:
    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    assert commit(project, "plans/p.yaml").returncode == 0
    write(project / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    r = sh(project, "commit", "-q", "-a", "-m", "all")  # git stages into a temporary index
    assert r.returncode == 1 and BAD_LINE in r.stderr
    r = sh(project, "commit", "-q", "-m", "only", "--", "plans/p.yaml")
    assert r.returncode == 1 and BAD_LINE in r.stderr


def test_cross_file_errors_of_a_staged_ticket(project: Path) -> None:
    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    assert commit(project, "plans/p.yaml").returncode == 0
    r = sh(project, "rm", "-q", "tickets/T-1.yaml")  # the plan still names T-1
    assert r.returncode == 0
    r = commit(project)
    assert r.returncode == 1
    assert "plans/p.yaml:2:" in r.stderr and "unknown ticket 'T-1'" in r.stderr


def test_first_commit_of_a_repository(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    install(root)
    write(root / "tickets" / "T-1.yaml", TICKET)
    write(root / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    r = commit(root, "tickets", "plans")
    assert r.returncode == 1 and BAD_LINE in r.stderr


def test_forbidden_files_are_refused_and_policy_decides(project: Path) -> None:
    write(project / "config" / "server.pem", "key\n")
    r = commit(project, "config/server.pem")
    assert r.returncode == 1
    assert "config/server.pem  (pattern '*.pem')" in r.stderr and "git rm --cached" in r.stderr
    # a staged policy that allows it is what counts (validated, then its patterns used)
    write(project / ".metawsm" / "policy.yaml", "close:\n  forbidden_file_patterns: ['*.secret']\n")
    r = commit(project, ".metawsm/policy.yaml")
    assert r.returncode == 0, r.stderr
    write(project / "x.secret", "s\n")
    r = commit(project, "x.secret")
    assert r.returncode == 1 and "x.secret  (pattern '*.secret')" in r.stderr
    sh(project, "rm", "-q", "--cached", "x.secret")
    # a deletion of a forbidden file is welcome
    write(project / ".metawsm" / "policy.yaml", "close:\n  forbidden_file_patterns: []\n")
    write(project / "y.secret", "s\n")
    assert commit(project, ".metawsm/policy.yaml", "y.secret").returncode == 0
    write(project / ".metawsm" / "policy.yaml", "close:\n  forbidden_file_patterns: ['*.secret']\n")
    assert commit(project, ".metawsm/policy.yaml").returncode == 0
    sh(project, "rm", "-q", "y.secret")
    assert commit(project).returncode == 0


def test_broken_staged_policy_names_the_policy_line(project: Path) -> None:
    write(project / ".metawsm" / "policy.yaml", "execution:\n  max_parallel: zero\n")
    r = commit(project, ".metawsm/policy.yaml")
    assert r.returncode == 1 and ".metawsm/policy.yaml:2:17: execution.max_parallel" in r.stderr


HEAVY = ("yaml", "jsonschema", "sqlite3", "libtmux", "metawsm.config.loader", "metawsm.engine.context", "subprocess")


def _probe(cwd: Path, heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    """Run the hook entry in-process in a fresh interpreter and report what it imported."""
    code = ("import json, sys; before = set(sys.modules); from metawsm.gate.hookrun import main; "
            "rc = main(['pre-commit']); "
            f"print(json.dumps({{'rc': rc, 'heavy': sorted(m for m in {heavy!r} if m in sys.modules "
            "and m not in before)}))")  # what the hook imports, not what a site customisation did
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_fast_path_imports_nothing_heavy_and_caches_the_policy(project: Path) -> None:
    write(project / ".metawsm" / "policy.yaml", "close:\n  forbidden_file_patterns: ['*.bin']\n")
    (project / ".metawsm" / "state").mkdir()
    assert commit(project, ".metawsm/policy.yaml").returncode == 0
    write(project / "a.txt", "a\n")
    sh(project, "add", "a.txt")
    (project / ".metawsm" / "state" / "hooks-cache.marshal").unlink(missing_ok=True)  # the commit above warmed it
    first = _probe(project)  # the cache is cold: the policy is loaded once
    assert first["rc"] == 0 and "yaml" in first["heavy"]  # type: ignore[operator]
    cache = marshal.loads((project / ".metawsm" / "state" / "hooks-cache.marshal").read_bytes())
    assert next(iter(cache["entries"].values()))["forbidden"] == ["*.bin"]
    assert _probe(project) == {"rc": 0, "heavy": []}
    # the cache follows the policy file (size + mtime)
    write(project / ".metawsm" / "policy.yaml", "close:\n  forbidden_file_patterns: ['*.txt']\n")
    assert _probe(project)["rc"] == 1
    assert _probe(project) == {"rc": 1, "heavy": []}


def test_framework_style_file_arguments(project: Path) -> None:
    from metawsm.gate import precommit

    write(project / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    code, message = precommit.run(str(project), ["plans/p.yaml"])
    assert code == 1 and BAD_LINE in message
    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    assert precommit.run(str(project), ["plans/p.yaml"]) == (0, "")


def test_a_staged_plan_is_validated_without_the_models(project: Path) -> None:
    # issue 20: with a metawsm file staged the hook validates (yaml, the loader), but builds no typed models:
    # the models module, dataclasses/inspect and shutil cost more than the hook's own work; and a valid file is
    # accepted by the pure-Python check (config/quickcheck.py) without loading jsonschema-rs (~27 ms of imports);
    # the config modules take TYPE_CHECKING without importing typing (~2 ms)
    absent = ("metawsm.config.models", "dataclasses", "inspect", "shutil", "jsonschema", "jsonschema_rs", "difflib",
              "sqlite3", "metawsm.engine.context", "libtmux", "typing")
    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p"))
    sh(project, "add", "plans/p.yaml")
    assert _probe(project, ("metawsm.config.loader", "yaml", *absent)) == {
        "rc": 0, "heavy": ["metawsm.config.loader", "yaml"]}
    write(project / "plans" / "p.yaml", BAD_PLAN.format(name="p"))
    sh(project, "add", "plans/p.yaml")
    r = commit(project)
    assert r.returncode == 1 and BAD_LINE in r.stderr and "(did you mean 'shell'?)" in r.stderr


def test_a_schema_error_in_a_staged_plan_is_explained_by_the_full_validator(project: Path) -> None:
    # the pure-Python check only says "valid"; a file it does not accept goes to jsonschema-rs and the located
    # messages come from the same place as before
    write(project / "plans" / "p.yaml", GOOD_PLAN.format(name="p") + "auto_close: 'yes'\n")
    sh(project, "add", "plans/p.yaml")
    assert _probe(project, ("jsonschema_rs", "jsonschema")) == {"rc": 1, "heavy": ["jsonschema", "jsonschema_rs"]}
    r = commit(project)
    assert r.returncode == 1
    assert "plans/p.yaml:7:13: auto_close: expected a boolean, got a string" in r.stderr
