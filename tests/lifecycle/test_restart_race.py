"""Restarted agents keep their new attempt: `metawsm iterate`, `metawsm restart` and `metawsm operator` restart
shell agents while `metawsm reconcile` processes are kicked at the same time and `metawsm status` looks on — real
tmux, git, SQLite and `metawsm` processes. After every restart each agent runs exactly one attempt more, in a
live session whose process is the one its attempt launched, and completes that attempt.

The interleaving that used to fail: the previous attempt's window wrapper records its exit code in the pane
(`@metawsm_exit`) through a tmux client that may arrive just after the restart respawned the pane; the next
reconcile then took the new attempt for exited ("exited with status 0 before signalling completion"), failed it
and retried: attempt 3 after one restart. The agents' tmux client here is a slow one (tests/runtime/slowtmux.py)
that delivers each attempt's exit record only when the test says so — right after the restart — so the race is
certain instead of a matter of load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from metawsm.engine.health import evaluate_run
from tests.conftest import run_metawsm
from tests.engine.conftest import commit_all, engine, project, write_plan  # noqa: F401 - fixture
from tests.runtime import slowtmux

pytestmark = [pytest.mark.slow, pytest.mark.reliability, pytest.mark.tmux]

TICKETS = ("DEMO-1", "DEMO-2")
LIVE = ("running", "idle", "stalled")
# The agent waits for the test's go-ahead for its attempt (a file), then completes it — or exits without
# completing when the file says "fail" (the operator's case: its exit record held back, its pane looks stalled).
PLAN = """tickets: [DEMO-1, DEMO-2]
agents:
  - name: impl
    profile: shell
    run: >-
      go="{go}/$METAWSM_TICKET-$METAWSM_ATTEMPT"; n=0;
      while [ ! -e "$go" ] && [ "$n" -lt 2400 ]; do sleep 0.05; n=$((n+1)); done;
      if grep -q fail "$go"; then touch "$go.exited"; exit 3; fi;
      metawsm signal completion --summary "attempt $METAWSM_ATTEMPT"
checks: ['true']
"""


class Harness:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.root, self.go, self.release = root, tmp / "go", tmp / "release"
        self.go.mkdir()
        client = slowtmux.write(tmp / "bin", self.release)
        self.env = {"PATH": f"{client.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                            f"{os.environ['PATH']}"}
        self.run_id = ""

    def metawsm(self, *argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        r = run_metawsm(*argv, "--lock-timeout", "120", cwd=self.root, env=self.env, timeout=180)
        assert r.returncode in ok, f"metawsm {' '.join(argv)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def spawn(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(self.root), *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **self.env})

    def concurrently(self, *commands: tuple[str, ...]) -> None:
        """The commands, each with a `metawsm reconcile` kicked beside it, and a `metawsm status`, all at once."""
        kicks = [("reconcile", "--run", self.run_id, "--quiet")] * len(commands) + [("status",)]
        procs = [(c, self.spawn(*c, *(("--lock-timeout", "120") if c in commands else ()))) for c in (*commands, *kicks)]
        for argv, p in procs:
            out, err = p.communicate(timeout=180)
            if argv in commands:  # a kicked reconcile may find the run busy (exit 1): that is its job
                assert p.returncode == 0, f"metawsm {' '.join(argv)} -> {p.returncode}\n{out}\n{err}"

    def agents(self) -> dict[str, tuple[int, str, int | None]]:
        eng = engine(self.root)
        try:
            return {a.ticket: (a.attempt, a.status, a.pane_pid) for a in eng.store.list_agents(self.run_id)}
        finally:
            eng.close()

    def step(self, ticket: str) -> str:
        eng = engine(self.root)
        try:
            return eng.store.get_step(self.run_id, f"agent:{ticket}:impl").status
        finally:
            eng.close()

    def panes(self) -> dict[str, dict[str, object]]:
        eng = engine(self.root)
        try:
            return {name: s.to_json() for name, s in eng.runtime.sessions().items()}
        finally:
            eng.close()

    def let_go(self, ticket: str, attempt: int, what: str = "go") -> None:
        (self.go / f"{ticket}-{attempt}").write_text(what, encoding="utf-8")

    def release_exit(self, ticket: str, attempt: int) -> None:
        (self.release / f"{ticket}-{attempt}").touch()
        until(lambda: (self.release / f"{ticket}-{attempt}.done").exists(),
              f"the exit record of {ticket} attempt {attempt}")

    def completed(self, attempt: int) -> None:
        """Let every agent's `attempt` complete, and wait until its step is done."""
        for t in TICKETS:
            self.let_go(t, attempt)
        until(lambda: all(self.step(t) == "done" for t in TICKETS), f"attempt {attempt} completed",
              kick=lambda: self.metawsm("reconcile", "--run", self.run_id, "--quiet", ok=(0, 1)))

    def check_running(self, attempt: int) -> None:
        """Every agent runs `attempt`, in a live session whose process is the one that attempt launched."""
        self.metawsm("reconcile", "--run", self.run_id, "--quiet", ok=(0, 1))  # polls the agents now
        eng = engine(self.root)
        try:  # what `metawsm status` does: evaluate (and record) their health
            healths = evaluate_run(eng, self.run_id)
        finally:
            eng.close()
        assert not [x for x in healths if x.health == "dead" or x.status not in LIVE], healths
        agents, panes = self.agents(), self.panes()
        for t in TICKETS:
            got, status, pid = agents[t]
            assert (got, self.step(t)) == (attempt, "running") and status in LIVE, f"{t}: {agents[t]}"
            pane = next(p for p in panes.values() if p["labels"].get("ticket") == t)  # type: ignore[union-attr]
            assert not pane["dead"] and pane["pid"] == pid, f"{t}: {pane}"


def until(predicate: Callable[[], object], what: str, *, kick: Callable[[], object] | None = None,
          timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if kick is not None:
            kick()
        time.sleep(0.1)


@pytest.fixture
def harness(project: Path, tmp_path: Path) -> Iterator[Harness]:  # noqa: F811
    h = Harness(project, tmp_path)
    write_plan(project, "race", PLAN.format(go=h.go))
    yield h
    (h.release / "all").touch()  # no held exit record outlives the test


def start(h: Harness, policy: str = "") -> None:
    if policy:
        path = h.root / ".metawsm/policy.yaml"
        path.write_text(path.read_text() + policy)
        commit_all(h.root, "policy")
    h.metawsm("apply", "plans/race.yaml")
    h.run_id = json.loads(h.metawsm("status", "--json").stdout)["runs"][0]["run_id"]
    h.check_running(1)
    h.completed(1)


def test_iterate_and_restart_under_kicked_reconciles_end_at_the_expected_attempt(harness: Harness) -> None:
    h = harness
    start(h)
    for attempt, verb in enumerate(("iterate", "restart"), start=1):
        if verb == "iterate":
            h.concurrently(*(("iterate", t, "--feedback", f"round {attempt + 1}") for t in TICKETS))
        else:
            h.concurrently(*(("restart", "--agent", f"{t}/impl") for t in TICKETS))
        for t in TICKETS:  # the finished attempt's wrapper records its exit code now, after the restart
            h.release_exit(t, attempt)
        h.check_running(attempt + 1)
        h.completed(attempt + 1)
    assert {t: a for t, (a, _, _) in h.agents().items()} == dict.fromkeys(TICKETS, 3)


def test_operator_restart_of_a_stalled_agent_keeps_the_new_attempt(harness: Harness) -> None:
    h = harness
    start(h, "health:\n  progress_stalled_seconds: 1\noperator:\n  unhealthy_confirmations: 1\n"
             "  restart_cooldown_seconds: 0\n")
    h.concurrently(*(("restart", "--agent", f"{t}/impl") for t in TICKETS))
    for t in TICKETS:
        h.release_exit(t, 1)
    h.check_running(2)
    for t in TICKETS:  # attempt 2's command ends without completing; its exit record is held back
        h.let_go(t, 2, "fail")
    until(lambda: all((h.go / f"{t}-2.exited").exists() for t in TICKETS), "attempt 2's commands ended")
    h.concurrently(("operator", "--once", "--run", h.run_id))  # no progress for 1 s: stalled, restarted
    for t in TICKETS:
        h.release_exit(t, 2)
    h.check_running(3)
    h.completed(3)
    assert {t: a for t, (a, _, _) in h.agents().items()} == dict.fromkeys(TICKETS, 3)


def test_health_judged_on_a_view_from_before_a_restart_reads_again(harness: Harness) -> None:
    """A command that listed the agents and the sessions before another process restarted an agent (`status`
    lists them before it takes the lease; the operator and the daemon keep one view of the sessions for several
    runs) does not judge the new attempt by the old attempt's row and exited pane: it reads them again."""
    h = harness
    start(h)
    for t in TICKETS:
        h.release_exit(t, 1)
    h.metawsm("restart")  # every agent of the run
    h.check_running(2)
    for t in TICKETS:  # attempt 2's command ends without completing (nothing reconciles: the test does)
        h.let_go(t, 2, "fail")
        h.release_exit(t, 2)
    until(lambda: all(p["dead"] for p in h.panes().values()), "attempt 2's panes exited")
    eng = engine(h.root)
    try:
        agents = eng.store.list_agents(h.run_id)  # attempt 2, running
        assert sorted(s.labels.get("ticket") for s in eng.sessions().values() if s.dead) == list(TICKETS)
        h.metawsm("restart")  # another process restarts them: attempt 3, in new sessions
        healths = evaluate_run(eng, h.run_id, agents=agents)  # with that list and that view of the sessions
        assert {(x.ticket, x.status, x.health) for x in healths} == {(t, "running", "healthy") for t in TICKETS}
    finally:
        eng.close()
    h.check_running(3)
    h.completed(3)
