"""The pre-push hook against a real run: `metawsm apply` of the demo plan (shell agents in tmux, real
worktrees), hooks installed first, a local bare remote. One run per module keeps this quick."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from metawsm.cli.main import main
from tests.conftest import pin_env
from tests.hooks.helpers import BAD_PLAN, commit, sh, write

pytestmark = pytest.mark.tmux


class Demo:
    def __init__(self, root: Path, remote: Path, socket: str) -> None:
        self.root, self.remote, self.socket = root, remote, socket

    def wt(self, ticket: str) -> Path:
        return self.root / ".metawsm" / "workspaces" / ticket

    def run_id(self) -> str:
        from metawsm.config.project import Project
        from metawsm.state import StateStore

        with StateStore(Project(self.root).state_dir / "state.db") as store:
            return store.list_runs()[0].run_id


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    mp = pytest.MonkeyPatch()
    pin_env(tmp_path_factory, mp)
    socket = f"mwtest-{uuid.uuid4().hex[:10]}"
    base = tmp_path_factory.mktemp("demo")
    root, remote = base / "repo", base / "remote.git"
    root.mkdir()
    try:
        sh(root, "init", "-q", "-b", "main")
        assert main(["-C", str(root), "init", "--demo"]) == 0
        sh(root, "add", "-A")
        sh(root, "commit", "-q", "-m", "demo")
        write(root / ".metawsm" / "policy.yaml", f"tmux:\n  socket_name: {socket}\n")
        assert main(["-C", str(root), "hooks", "install"]) == 0  # before apply: the agents' commits run it
        assert commit(root, ".metawsm/policy.yaml").returncode == 0
        assert main(["-C", str(root), "apply", "plans/demo.yaml", "--wait", "--timeout", "60"]) == 0
        sh(base, "init", "-q", "--bare", str(remote))
        sh(root, "remote", "add", "origin", str(remote))
        assert sh(root, "push", "-q", "origin", "main").returncode == 0
        yield Demo(root, remote, socket)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        mp.undo()


def push(cwd: Path, *refs: str) -> subprocess.CompletedProcess[str]:
    return sh(cwd, "push", "origin", *refs)


def test_agents_commits_in_apply_worktrees_ran_the_hook(demo: Demo) -> None:
    wt = demo.wt("DEMO-2")
    assert sh(wt, "log", "-1", "--format=%s").stdout.startswith("DEMO-2:")  # the agent's commit passed the hook
    write(wt / "plans" / "broken.yaml", BAD_PLAN.format(name="broken"))
    try:
        r = commit(wt, "plans/broken.yaml")
        assert r.returncode == 1  # the hook in the common git dir ran in the linked worktree
        assert "plans/broken.yaml:5:14: agents[0].profile: unknown profile 'shel'" in r.stderr
    finally:
        sh(wt, "rm", "-q", "-f", "--cached", "plans/broken.yaml")
        (wt / "plans" / "broken.yaml").unlink()
    assert sh(wt, "status", "--porcelain").stdout == ""


def test_validated_clean_ticket_branch_is_accepted_from_its_worktree(demo: Demo) -> None:
    r = push(demo.wt("DEMO-1"), "metawsm/DEMO-1")
    assert r.returncode == 0, r.stderr
    assert sh(demo.remote, "rev-parse", "refs/heads/metawsm/DEMO-1").stdout.strip() == \
        sh(demo.wt("DEMO-1"), "rev-parse", "HEAD").stdout.strip()


def test_gate_reads_the_base_policy_from_the_hooks_cache_when_it_is_the_checkouts(demo: Demo) -> None:
    # main's committed policy is the checkout's: the hook knows it from its cache (no yaml, no jsonschema)
    r = subprocess.run(["git", "push", "--dry-run", "origin", "metawsm/DEMO-1:refs/heads/metawsm/DEMO-1-probe"],
                       cwd=demo.wt("DEMO-1"),
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    names = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert r.returncode == 0 and "metawsm.gate.evaluate" in names, r.stderr[-2000:]
    assert not names & {"yaml", "jsonschema_rs", "metawsm.config.loader", "metawsm.runtime.tmux"}


# Issue 20: the gate of a ticket branch runs at the cost of its git work and plain sqlite3 reads. These are the
# layers it once imported (about 60 dataclasses created at import, ~100 ms on a loaded machine): the state store
# and its records, the forum service and its records, the policy models, the plan's step records, the runtime's
# git/proc wrappers (subprocess), and what they bring.
HEAVY_FOR_PUSH = ("dataclasses", "inspect", "subprocess", "json", "re", "pathlib", "yaml", "jsonschema_rs", "orjson",
                  "metawsm.config.models", "metawsm.config.loader", "metawsm.config.project", "metawsm.state",
                  "metawsm.state.store", "metawsm.state.models", "metawsm.forum", "metawsm.forum.service",
                  "metawsm.forum.models", "metawsm.plan.steps", "metawsm.runtime.git", "metawsm.runtime.proc",
                  "metawsm.gate.context", "metawsm.engine.context")


def _imports_of_push(demo: Demo, ticket: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    ref = f"refs/heads/metawsm/{ticket}"
    sha = sh(demo.wt(ticket), "rev-parse", "HEAD").stdout.strip()
    r = subprocess.run([str(demo.root / ".git" / "hooks" / "pre-push"), "origin", str(demo.remote)], cwd=demo.root,
                       input=f"{ref} {sha} {ref} {'0' * 40}\n", capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    return r, {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}


def test_gate_of_a_ticket_branch_imports_no_model_layer(demo: Demo) -> None:
    floor = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
                           timeout=60).stderr  # what the interpreter's own site imports (a .pth may import re)
    heavy = set(HEAVY_FOR_PUSH) - {line.rsplit("|", 1)[1].strip() for line in floor.splitlines()
                                   if line.startswith("import time:")}
    _imports_of_push(demo, "DEMO-1")  # (the forum index catches up with the agents' signals first, if behind)
    r, names = _imports_of_push(demo, "DEMO-1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert {"metawsm.gate.facts", "metawsm.gate.rules", "metawsm.gate.evaluate", "sqlite3"} <= names
    assert sorted(names & heavy) == []
    # a refusal on the same path (validation for another commit) stays as light
    wt = demo.wt("DEMO-1")
    start = sh(wt, "rev-parse", "HEAD").stdout.strip()
    write(wt / "demo" / "later.txt", "later\n")
    assert commit(wt, "demo/later.txt", message="later").returncode == 0
    try:
        r, names = _imports_of_push(demo, "DEMO-1")
        assert r.returncode == 1 and "FAIL validation: validation was for " in r.stderr
        assert sorted(names & heavy) == []
    finally:
        sh(wt, "reset", "-q", "--hard", start)


def test_a_base_policy_that_is_not_the_checkouts_is_parsed_once(demo: Demo) -> None:
    """main's committed policy differs from the checkout's file (an uncommitted edit, or another branch checked
    out): the first push parses it (yaml, jsonschema, the models); later pushes judge by its remembered values."""
    policy = demo.root / ".metawsm" / "policy.yaml"
    before = policy.read_text(encoding="utf-8")
    write(policy, before + "close:\n  forbidden_file_patterns: ['demo/*.txt']\n")
    assert commit(demo.root, ".metawsm/policy.yaml", message="forbid the demo files").returncode == 0
    write(policy, before)  # the checkout's file as it was: the hooks cache knows this one, not main's
    cache = demo.root / ".metawsm" / "state" / "judging-cache.marshal"
    cache.unlink(missing_ok=True)
    try:
        first, names = _imports_of_push(demo, "DEMO-1")
        assert first.returncode == 1 and "FAIL forbidden_files: forbidden files changed: demo/DEMO-1.txt" in first.stderr
        assert "metawsm.config.loader" in names and cache.is_file()
        again, names = _imports_of_push(demo, "DEMO-1")
        assert (again.returncode, again.stderr.count("FAIL")) == (1, 1)
        assert [ln for ln in again.stderr.splitlines() if not ln.startswith("import time:")] == \
            [ln for ln in first.stderr.splitlines() if not ln.startswith("import time:")]
        assert not names & {"yaml", "jsonschema_rs", "metawsm.config.loader", "metawsm.config.models"}
    finally:
        assert commit(demo.root, ".metawsm/policy.yaml", message="back").returncode == 0


def test_dirty_worktree_is_refused(demo: Demo) -> None:
    stray = write(demo.wt("DEMO-1") / "notes.txt", "uncommitted\n")
    try:
        # (metawsm/DEMO-1 itself is already on the remote, so push it under another name: the local
        # side is the ticket branch, which is what counts)
        r = push(demo.root, "metawsm/DEMO-1:refs/heads/elsewhere/DEMO-1")
        assert r.returncode == 1
        assert "metawsm pre-push: refused refs/heads/elsewhere/DEMO-1 (ticket DEMO-1" in r.stderr
        assert "FAIL clean_tree: uncommitted or untracked files: notes.txt" in r.stderr
        assert "fix: commit or remove them in" in r.stderr
        assert "git push --no-verify" in r.stderr
    finally:
        stray.unlink()


def test_branch_without_a_run_is_refused(demo: Demo) -> None:
    sh(demo.root, "branch", "metawsm/NOPE-1", "main")
    r = push(demo.root, "metawsm/NOPE-1")
    assert r.returncode == 1
    assert "FAIL run: no metawsm run has ticket NOPE-1" in r.stderr and "fix: metawsm apply" in r.stderr


def test_other_branches_and_deletions_pass(demo: Demo) -> None:
    sh(demo.root, "branch", "feature/x", "main")
    assert push(demo.root, "feature/x").returncode == 0
    sh(demo.root, "branch", "metawsm/GONE-1", "main")
    assert sh(demo.root, "push", "--no-verify", "origin", "metawsm/GONE-1").returncode == 0
    r = push(demo.root, ":metawsm/GONE-1")  # deleting a ticket branch pushes no content
    assert r.returncode == 0, r.stderr


def test_new_commit_needs_new_validation_then_is_accepted(demo: Demo) -> None:
    wt = demo.wt("DEMO-2")
    write(wt / "demo" / "extra.txt", "more\n")
    assert commit(wt, "demo/extra.txt", message="more work").returncode == 0
    new = sh(wt, "rev-parse", "HEAD").stdout.strip()
    r = push(wt, "metawsm/DEMO-2")
    assert r.returncode == 1
    assert "FAIL validation: validation was for " in r.stderr and f"not for {new[:12]}" in r.stderr
    assert "fix: re-run the checks: `metawsm apply`" in r.stderr
    assert "metawsm gate --ticket DEMO-2" in r.stderr
    # an older sha that was never validated either (pushing HEAD~1 of the branch under another name)
    r = push(wt, "HEAD~1:refs/heads/metawsm/DEMO-2")
    assert r.returncode == 0, r.stderr  # HEAD~1 is the validated commit: accepted
    # a passing validation for the new sha: accepted
    signal = subprocess.run(
        [sys.executable, "-m", "metawsm", "signal", "validation", "--status", "passed", "--done-criteria", "demo",
         "--sha", new, "--run", demo.run_id(), "--ticket", "DEMO-2", "--agent", "writer", "--attempt", "1"],
        cwd=wt, capture_output=True, text=True, env={**os.environ, "METAWSM_HOME": str(demo.root)})
    assert signal.returncode == 0, signal.stderr
    # issue 15: a validation typed in a shell is recorded and shown, but does not pass the gate …
    r = push(wt, "metawsm/DEMO-2")
    assert r.returncode == 1
    assert "not for " + new[:12] in r.stderr
    gate = subprocess.run([sys.executable, "-m", "metawsm", "gate", "--ticket", "DEMO-2", "--json"], cwd=demo.root,
                          capture_output=True, text=True)
    (check,) = [c for g in json.loads(gate.stdout)["gates"] for c in g["checks"] if c["name"] == "validation"]
    assert any("not trusted: passed for " + new[:12] in d and "agent:DEMO-2/writer" in d for d in check["details"])
    # … unless the base branch's policy allows manual validation and names who may give it
    policy = demo.root / ".metawsm" / "policy.yaml"
    before = policy.read_text(encoding="utf-8")
    data = yaml.safe_load(before) or {}
    data.setdefault("close", {})["manual_validation"] = {"allowed": True, "by": ["DEMO-2/writer"]}
    policy.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert commit(demo.root, ".metawsm/policy.yaml", message="allow manual validation").returncode == 0
    try:
        r = push(wt, "metawsm/DEMO-2")
        assert r.returncode == 0, r.stderr
    finally:
        policy.write_text(before, encoding="utf-8")
        assert commit(demo.root, ".metawsm/policy.yaml", message="back").returncode == 0


def test_forbidden_file_in_pushed_commit_is_refused(demo: Demo) -> None:
    wt = demo.wt("DEMO-1")
    start = sh(wt, "rev-parse", "HEAD").stdout.strip()
    write(wt / "deploy.key", "secret\n")
    assert commit(wt, "deploy.key", message="oops", extra=("--no-verify",)).returncode == 0
    try:
        r = push(wt, "metawsm/DEMO-1:refs/heads/metawsm/DEMO-1")
        assert r.returncode == 1
        assert "FAIL forbidden_files: forbidden files changed: deploy.key" in r.stderr
        assert "FAIL validation" in r.stderr
        # removed again at HEAD, but the pushed commit (HEAD~1) still carries it
        sh(wt, "rm", "-q", "deploy.key")
        assert commit(wt, message="remove it").returncode == 0
        r = push(wt, "HEAD~1:refs/heads/metawsm/DEMO-1")
        assert r.returncode == 1
        assert "FAIL forbidden_files: forbidden files in the pushed commit: deploy.key" in r.stderr
    finally:
        sh(wt, "reset", "-q", "--hard", start)


def test_branch_cannot_weaken_the_policy_that_judges_it(demo: Demo) -> None:
    """Issue 15: a ticket branch that set `forbidden_file_patterns: []` (and deleted plans/) passed the
    gate and was merged. The gate reads the base branch's policy and reports the change for a person."""
    wt = demo.wt("DEMO-1")
    start = sh(wt, "rev-parse", "HEAD").stdout.strip()
    policy = wt / ".metawsm" / "policy.yaml"
    data = yaml.safe_load(policy.read_text(encoding="utf-8")) or {}
    data.setdefault("close", {})["forbidden_file_patterns"] = []
    write(policy, yaml.safe_dump(data))
    write(wt / ".ENV", "TOKEN=x\n")
    sh(wt, "rm", "-q", "-r", "plans")
    assert commit(wt, ".metawsm/policy.yaml", ".ENV", message="weaken", extra=("--no-verify", "-a")).returncode == 0
    try:
        r = push(wt, "metawsm/DEMO-1:refs/heads/metawsm/DEMO-1")
        assert r.returncode == 1
        assert "FAIL forbidden_files: forbidden files changed: .ENV" in r.stderr
        assert "FAIL policy_change: the branch changes what judges it (.metawsm/policy.yaml, plans/" in r.stderr
        gate = subprocess.run([sys.executable, "-m", "metawsm", "gate", "--ticket", "DEMO-1"], cwd=wt,
                              capture_output=True, text=True, env={**os.environ, "METAWSM_HOME": str(demo.root)})
        assert gate.returncode == 3 and "policy_change" in gate.stdout + gate.stderr
        # the pre-commit hook in the worktree does not take the branch's word either
        write(wt / "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
        r = commit(wt, "id_rsa", message="key")
        assert r.returncode == 1 and "id_rsa" in r.stderr
    finally:
        sh(wt, "reset", "-q", "--hard", start)
        sh(wt, "clean", "-fdq")
