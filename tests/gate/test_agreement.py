"""The pre-push hook and `metawsm gate` judge alike: over a table of ticket states, the hook's exit status and
every line it prints are what `metawsm gate --ticket T --json` (the evaluation `metawsm close` runs before it
merges) says, rendered as the hook renders a refusal. Both read their facts with gate/facts.py and
gate/gitfacts.py and judge them with gate/rules.py; this proves it on a real run (the demo plan with shell
agents in tmux, real worktrees, a second repository for a multi-repo ticket), real processes of both.

Each case changes the run, the repository or the policy, checks that the gate refuses what the case is about
(so that no case agrees vacuously), compares, and puts things back; they run in table order on one run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.cli.main import main
from tests.conftest import pin_env
from tests.hooks.helpers import commit, sh, write

pytestmark = pytest.mark.tmux

BYPASS = ("bypass (not recommended): git push --no-verify — `metawsm close` re-checks the gate before "
          "merging, so a bypassed problem still blocks the ticket")
MULTI = """\
name: multi
tickets: [DEMO-3]
agents:
  - name: w
    profile: shell
    run: >-
      cd {{ workspace.repos.self | shquote }} && mkdir -p demo && echo hi > demo/DEMO-3.txt && git add demo
      && git commit -qm DEMO-3 && metawsm signal completion --summary ok
"""


class Repo:
    def __init__(self, root: Path, lib: Path) -> None:
        self.root, self.lib = root, lib
        self.policy = root / ".metawsm" / "policy.yaml"

    def wt(self, ticket: str) -> Path:
        return self.root / ".metawsm" / "workspaces" / ticket

    def head(self, ticket: str) -> str:
        return sh(self.wt(ticket), "rev-parse", "HEAD").stdout.strip()

    def forum(self):  # type: ignore[no-untyped-def]
        from metawsm.config.project import Project
        from metawsm.forum import Forum

        return Forum.for_project(Project(self.root))

    def store(self):  # type: ignore[no-untyped-def]
        from metawsm.config.project import Project
        from metawsm.state import StateStore

        return StateStore(Project(self.root).state_dir / "state.db")

    def run_of(self, ticket: str) -> str:
        with self.store() as store:
            return str(store.list_runs(ticket=ticket)[0].run_id)

    def set_policy(self, extra: str) -> Callable[[], None]:
        """Commit `extra` appended to the policy on main; returns what puts it back."""
        before = self.policy.read_text(encoding="utf-8")
        write(self.policy, before + extra)
        assert commit(self.root, ".metawsm/policy.yaml", message="policy for a case").returncode == 0

        def undo() -> None:
            write(self.policy, before)
            assert commit(self.root, ".metawsm/policy.yaml", message="policy back").returncode == 0
        return undo

    def reset_after(self, ticket: str) -> Callable[[], None]:
        start = self.head(ticket)
        return lambda: (sh(self.wt(ticket), "reset", "-q", "--hard", start), sh(self.wt(ticket), "clean", "-fdq"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    mp = pytest.MonkeyPatch()
    pin_env(tmp_path_factory, mp)
    socket = f"mwtest-{uuid.uuid4().hex[:10]}"
    base = tmp_path_factory.mktemp("agree")
    root, lib = base / "repo", base / "lib"
    root.mkdir()
    lib.mkdir()
    try:
        sh(lib, "init", "-q", "-b", "main")
        write(lib / "lib.txt", "lib\n")
        assert commit(lib, "lib.txt", message="lib").returncode == 0
        sh(root, "init", "-q", "-b", "main")
        assert main(["-C", str(root), "init", "--demo"]) == 0
        write(root / ".metawsm" / "policy.yaml", f"tmux:\n  socket_name: {socket}\nrepos:\n  lib:\n    path: {lib}\n")
        write(root / "tickets" / "DEMO-3.yaml", "id: DEMO-3\ntitle: Two repositories\nrepos: [self, lib]\n")
        write(root / "plans" / "multi.yaml", MULTI)
        sh(root, "add", "-A")
        sh(root, "commit", "-q", "-m", "demo")
        assert main(["-C", str(root), "hooks", "install"]) == 0  # before apply: the agents' commits run it
        assert main(["-C", str(root), "apply", "plans/demo.yaml", "--wait", "--timeout", "90"]) == 0
        main(["-C", str(root), "apply", "plans/multi.yaml", "--wait", "--timeout", "90"])  # no checks: gate refuses
        yield Repo(root, lib)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        mp.undo()


def hook(r: Repo, ticket: str, sha: str) -> subprocess.CompletedProcess[str]:
    """The installed pre-push hook, run as git runs it for `git push origin metawsm/T`."""
    ref = f"refs/heads/metawsm/{ticket}"
    return subprocess.run([str(r.root / ".git" / "hooks" / "pre-push"), "origin", str(r.root / "nowhere.git")],
                          cwd=r.root, input=f"{ref} {sha} {ref} {'0' * 40}\n", capture_output=True, text=True,
                          timeout=120)


def gate(r: Repo, ticket: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = subprocess.run([sys.executable, "-m", "metawsm", "gate", "--ticket", ticket, "--json"], cwd=r.root,
                          capture_output=True, text=True, timeout=120)
    (result,) = json.loads(proc.stdout)["gates"]
    return proc.returncode, result


def rendered(ticket: str, result: dict) -> str:  # type: ignore[type-arg]
    """A refusal as the hook prints it, from the gate's JSON."""
    failed = [c for c in result["checks"] if not c["passed"]]
    if not failed:
        return ""
    lines = [f"metawsm pre-push: refused refs/heads/metawsm/{ticket} (ticket {ticket}, run {result['run_id']}) "
             f"at {result['sha'][:12]}:"]
    for c in failed:
        lines.append(f"  FAIL {c['name']}: {c['reason']}")
        if c["fix"]:
            lines.append(f"       fix: {c['fix']}")
    lines.append(f"see every check: metawsm gate --ticket {ticket}")
    return "\n".join(lines) + "\n\n" + BYPASS + "\n"


# -- the cases: each sets a state up and returns what undoes it ---------------------------------------------
def nothing(r: Repo) -> Callable[[], None]:
    return lambda: None


def dirty(r: Repo) -> Callable[[], None]:
    stray = write(r.wt("DEMO-1") / "notes.txt", "uncommitted\n")
    return stray.unlink


def older_attempt_only(r: Repo) -> Callable[[], None]:
    run_id = r.run_of("DEMO-1")
    with r.store() as store:
        attempt = store.new_attempt(run_id, "DEMO-1", "writer")  # the completion on record is attempt 1's

    def undo() -> None:
        r.forum().signal(run_id, "DEMO-1", "DEMO-1/writer", attempt, "completion", summary="again")
    return undo


def new_commit(r: Repo) -> Callable[[], None]:
    undo = r.reset_after("DEMO-2")
    write(r.wt("DEMO-2") / "demo" / "extra.txt", "more\n")
    assert commit(r.wt("DEMO-2"), "demo/extra.txt", message="more work").returncode == 0
    return undo


def _checks_validation(r: Repo, ticket: str, status: str) -> None:
    forum, run_id = r.forum(), r.run_of(ticket)
    attempt = forum.latest_attempt(run_id, f"{ticket}/checks")
    forum.signal(run_id, ticket, f"{ticket}/checks", attempt, "validation", status=status, done_criteria="demo",
                 sha=r.head(ticket), output_tail="", actor_type="system", actor_name="metawsm")


def failed_validation(r: Repo) -> Callable[[], None]:
    _checks_validation(r, "DEMO-2", "failed")
    return lambda: _checks_validation(r, "DEMO-2", "passed")


def hand_typed_validation(r: Repo) -> Callable[[], None]:
    undo = new_commit(r)
    run_id = r.run_of("DEMO-2")
    r.forum().signal(run_id, "DEMO-2", "DEMO-2/writer", 1, "validation", status="passed", done_criteria="demo",
                     sha=r.head("DEMO-2"))
    return undo


def forbidden_file(r: Repo) -> Callable[[], None]:
    undo = r.reset_after("DEMO-1")
    write(r.wt("DEMO-1") / "deploy.key", "secret\n")
    assert commit(r.wt("DEMO-1"), "deploy.key", message="oops", extra=("--no-verify",)).returncode == 0
    return undo


def policy_changed_on_branch(r: Repo) -> Callable[[], None]:
    undo = r.reset_after("DEMO-1")
    plan = r.wt("DEMO-1") / "plans" / "demo.yaml"
    write(plan, plan.read_text(encoding="utf-8") + "# changed on the branch\n")
    assert commit(r.wt("DEMO-1"), "plans/demo.yaml", message="plan", extra=("--no-verify",)).returncode == 0
    return undo


def reviewer_pending(r: Repo) -> Callable[[], None]:
    return r.set_policy("close:\n  reviewers: [writer]\n")


def reviewer_approved_another_sha(r: Repo) -> Callable[[], None]:
    undo = r.set_policy("close:\n  reviewers: [writer]\n")
    run_id = r.run_of("DEMO-1")
    with r.store() as store:
        attempt = store.get_agent(run_id, "DEMO-1", "writer").attempt
    r.forum().signal(run_id, "DEMO-1", "DEMO-1/writer", attempt, "review", status="approved", sha="0" * 40)
    return undo


def custom_check(r: Repo) -> Callable[[], None]:
    return r.set_policy("close:\n  required_checks: [clean_tree, completion, validation, forbidden_files,\n"
                        "    {name: readme, run: 'test -f NO-SUCH-FILE'}]\n")


def base_policy_is_not_the_checkouts(r: Repo) -> Callable[[], None]:
    """main's committed policy forbids *.txt; the checkout's file (which the hooks cache knows) does not."""
    before = r.policy.read_text(encoding="utf-8")
    undo = r.set_policy("close:\n  forbidden_file_patterns: ['*.txt']\n")
    write(r.policy, before)  # uncommitted in the main checkout: the gate still judges by main's
    return undo


def multi_repo_dirty(r: Repo) -> Callable[[], None]:
    run_id = r.run_of("DEMO-3")
    with r.store() as store:
        step = store.get_step(run_id, "workspace:DEMO-3")
    lib_wt = Path(json.loads(step.fields_json)["repos"]["lib"]["path"])
    stray = write(lib_wt / "stray.txt", "x\n")
    return stray.unlink


class Case(NamedTuple):
    name: str
    ticket: str
    setup: Callable[[Repo], Callable[[], None]]
    refused: tuple[str, ...]  # the checks the gate must refuse in this state


CASES = [
    Case("passes", "DEMO-1", nothing, ()),
    Case("dirty_worktree", "DEMO-1", dirty, ("clean_tree",)),
    Case("signalled_for_an_older_attempt", "DEMO-1", older_attempt_only, ("completion",)),
    Case("validation_for_another_sha", "DEMO-2", new_commit, ("validation",)),
    Case("validation_failed", "DEMO-2", failed_validation, ("validation",)),
    Case("validation_typed_by_hand", "DEMO-2", hand_typed_validation, ("validation",)),
    Case("forbidden_file_changed", "DEMO-1", forbidden_file, ("validation", "forbidden_files")),
    Case("policy_changed_on_the_branch", "DEMO-1", policy_changed_on_branch, ("validation", "policy_change")),
    Case("reviewer_pending", "DEMO-1", reviewer_pending, ("review",)),
    Case("reviewer_approved_another_sha", "DEMO-1", reviewer_approved_another_sha, ("review",)),
    Case("custom_check_fails", "DEMO-1", custom_check, ("readme",)),
    Case("base_policy_is_not_the_checkouts", "DEMO-1", base_policy_is_not_the_checkouts, ("forbidden_files",)),
    Case("multi_repo_ticket", "DEMO-3", multi_repo_dirty, ("clean_tree", "validation")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_hook_judges_as_the_gate(repo: Repo, case: Case) -> None:
    undo = case.setup(repo)
    try:
        code, result = gate(repo, case.ticket)
        assert [c["name"] for c in result["checks"] if not c["passed"]] == list(case.refused), result
        assert code == (3 if case.refused else 0)
        pushed = hook(repo, case.ticket, result["sha"])
        assert pushed.stderr == rendered(case.ticket, result)
        assert pushed.returncode == (1 if case.refused else 0)
    finally:
        undo()
