"""The swarm backend for real: a two-node Docker Swarm the tests start (two dockerd in two network namespaces
joined by a veth pair, see swarmd.py), the base image `metawsm image build` puts on each node, the demo plan end
to end with its tickets pinned by placement labels to both nodes (one node's single slot making a ticket wait in
the queue), attach through the chosen node's daemon
(shown in a real tmux pane, checked with capture-pane), a killed task seen dead and restarted by the operator,
and stop/cleanup leaving no service and no container on either node."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from metawsm.errors import ExternalError
from metawsm.runtime.base import RuntimeConfig, SessionSpec
from metawsm.runtime.settings import PlacementRule, SwarmNode, SwarmSettings
from metawsm.runtime.swarm import SwarmRuntime
from tests.backends import swarmd
from tests.backends.conftest import CACHE, TAG
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_of, agents_plan, start, status
from tests.operator._helpers import tick_process

pytestmark = [pytest.mark.backends, pytest.mark.slow, pytest.mark.tmux]


@pytest.fixture(scope="module")
def swarm(image: dict[str, object]) -> Iterator[swarmd.Swarm]:
    """The two-node swarm, with the tests' image built on each node (the rootfs tarball the `image` fixture made
    is reused: `metawsm image build --docker-host` on a node only imports it)."""
    why = swarmd.missing()
    if why:
        pytest.skip(why)

    def build(node: swarmd.Node) -> list[str]:
        return [sys.executable, "-m", "metawsm", "image", "build", "--tag", TAG, "--cache-dir", str(CACHE / "images"),
                "--docker-host", node.host, "--json"]

    try:
        with swarmd.swarm_for_tests(build) as found:
            yield found
    except swarmd.CannotRun as exc:
        pytest.skip(f"a two-node swarm cannot run here: {exc}")


@pytest.fixture(autouse=True)
def leaves_nothing(swarm: swarmd.Swarm) -> Iterator[None]:
    """Each test ends with no service and no container on either node: a leftover is removed and fails the test."""
    yield
    services, containers = swarm.services(), swarm.containers()
    if services:
        swarm.manager.docker("service", "rm", *services, check=False)
    for node in swarm.nodes:
        if node.name in containers:
            node.docker("rm", "-f", *containers[node.name], check=False)
    if services or containers:
        pytest.fail(f"left behind: services {services}, containers {containers}")


def use_swarm(root: Path, swarm: swarmd.Swarm, tmux_socket: str, *, extra: str = "",
              first: list[dict[str, object]] | None = None) -> None:
    """Node n1 has pool=a and 2 slots, n2 pool=b and 1 slot; DEMO-1 needs pool a, every other ticket pool b
    (placement rules in `first` come before those)."""
    nodes = [{"name": n.name, "host": n.host, "labels": {"pool": pool}, "slots": slots}
             for n, pool, slots in zip(swarm.nodes, ("a", "b"), (2, 1), strict=True)]
    placement = [*(first or []), {"ticket": "DEMO-1", "labels": {"pool": "a"}},
                 {"ticket": "DEMO-*", "labels": {"pool": "b"}}]
    runtime = {"backend": "swarm", "swarm": {
        "nodes": nodes, "image": TAG, "pids": 256, "memory": "512m", "cpus": 1, "placement": placement}}
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux:\n  socket_name: {tmux_socket}\n"
        "execution:\n  step_retries: 0\n  backoff: {initial_seconds: 0, max_seconds: 0}\n"
        f"runtime: {json.dumps(runtime)}\n{extra}", encoding="utf-8")
    commit_all(root, "swarm policy")


def service_labels(swarm: swarmd.Swarm, ticket: str) -> dict[str, str]:
    (service,) = swarm.services(f"label=metawsm.ticket={ticket}")
    out = swarm.manager.docker("service", "inspect", "--format", "{{json .Spec.Labels}}", service).stdout
    return {k.removeprefix("metawsm."): v for k, v in json.loads(out).items()}


def test_demo_plan_on_two_nodes_then_cleanup_leaves_nothing(swarm: swarmd.Swarm, project: Path, cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                             tmux_socket: str) -> None:
    from metawsm.runtime.scope import repo_id

    use_swarm(project, swarm, tmux_socket)
    # the demo plan with a third ticket: DEMO-2 and DEMO-3 both need n2, which has one slot
    (project / "tickets" / "DEMO-3.yaml").write_text(
        (project / "tickets" / "DEMO-2.yaml").read_text(encoding="utf-8").replace("DEMO-2", "DEMO-3"), encoding="utf-8")
    plan = (project / "plans" / "demo.yaml").read_text(encoding="utf-8")
    assert "tickets: [DEMO-1, DEMO-2]" in plan
    (project / "plans" / "demo3.yaml").write_text(
        plan.replace("tickets: [DEMO-1, DEMO-2]", "tickets: [DEMO-1, DEMO-2, DEMO-3]").replace("name: demo", "name: demo3"),
        encoding="utf-8")
    commit_all(project, "a third demo ticket")
    result = cli("apply", "plans/demo3.yaml", "--json", cwd=project)  # returns once ready work has started
    assert result.code == 0, result.out + result.err
    assert "queued: every swarm node DEMO-" in result.out, result.out  # DEMO-2 or DEMO-3 waits for n2's one slot
    result = cli("apply", "plans/demo3.yaml", "--wait", "--json", cwd=project)  # the same run, on to its end
    assert result.code == 0, result.out + result.err
    (run,) = json.loads(result.out.splitlines()[-1])["runs"]
    assert run["status"] == "complete", run
    for ticket in ("DEMO-1", "DEMO-2", "DEMO-3"):  # each agent committed from its container, as the repo's user
        log = git(project, "log", "-1", "--format=%an|%s", f"metawsm/{ticket}").strip()
        assert log.startswith("Test Author|" + ticket), log
    # each ticket ran on the node its placement labels chose, its service labelled as the repository's and run's
    for ticket, node in (("DEMO-1", "n1"), ("DEMO-2", "n2"), ("DEMO-3", "n2")):
        labels = service_labels(swarm, ticket)
        assert {k: labels[k] for k in ("repo", "home", "run", "ticket", "agent", "session", "node")} == {
            "repo": repo_id(project), "home": str(project), "run": run["run_id"], "ticket": ticket,
            "agent": "writer", "session": f"demo3-{ticket}-writer", "node": node}, labels
        assert list(swarm.containers(f"label=metawsm.ticket={ticket}")) == [node]
    agents = agents_of(status(cli, project))
    assert {a["backend"] for a in agents.values()} == {"swarm"}
    result = cli("cleanup", "--force", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert swarm.services() == [] and swarm.containers() == {}


def _viewer_shows(tmux_socket: str, viewer: str, argv: list[str], text: str) -> None:
    """Run ``argv`` (an attach command) in a new pane of the test's tmux server, as a person would in a terminal,
    and wait until that pane shows ``text``."""
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", viewer, "-x", "120", "-y", "20",
                    shlex.join(argv)], check=True)
    wait_for(lambda: text in subprocess.run(
        ["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", f"={viewer}:"], capture_output=True,
        text=True).stdout, 60, f"the attached terminal showing {text!r}")


def test_a_killed_task_is_a_dead_agent_the_operator_restarts(swarm: swarmd.Swarm, project: Path, cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                                             tmux_socket: str) -> None:
    use_swarm(project, swarm, tmux_socket,
              extra="operator:\n  unhealthy_confirmations: 1\n  restart_budget: 2\n  restart_cooldown_seconds: 0\n")
    n2 = swarm.nodes[1]
    run_id = start(cli, project, agents_plan(project, "op", {"w": "echo attempt $METAWSM_ATTEMPT; exec sleep 300"},
                                             tickets=("DEMO-2",)))
    (service,) = swarm.services()
    (container,) = n2.containers(f"label=com.docker.swarm.service.name={service}", "status=running")
    agent = agents_of(status(cli, project))["DEMO-2/w"]
    assert (agent["status"], agent["backend"], agent["where"]) == ("running", "swarm", f"swarm n2/{service}"), agent
    # attach goes to node n2's own daemon (swarm has no exec)
    shown = run_metawsm("attach", "DEMO-2/w", "--json", cwd=project)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    command = json.loads(shown.stdout)["command"]
    assert command[:5] == ["docker", "-H", n2.host, "exec", "-it"] and container in command, command
    _viewer_shows(tmux_socket, "viewer1", command, "attempt 1")
    n2.docker("kill", container)
    agent = agents_of(status(cli, project))["DEMO-2/w"]
    assert agent["status"] == "dead" and "gone" in agent["health_reason"], agent
    (restart,) = tick_process(project)
    assert (restart["intent"], restart["executed"], restart["new_attempt"]) == ("restart", True, 2), restart
    (again,) = n2.containers(f"label=com.docker.swarm.service.name={service}", "status=running")
    assert again != container
    agent = agents_of(status(cli, project))["DEMO-2/w"]
    assert (agent["status"], agent["attempt"], agent["where"]) == ("running", 2, f"swarm n2/{service}"), agent
    shown = run_metawsm("attach", "DEMO-2/w", "--json", cwd=project)
    _viewer_shows(tmux_socket, "viewer2", json.loads(shown.stdout)["command"], "attempt 2")
    result = cli("stop", "--run", run_id, "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert swarm.services() == [] and swarm.containers() == {}  # the service and its containers went with it


def test_ownership_release_and_a_task_swarm_cannot_run(swarm: swarmd.Swarm, repo: Path) -> None:
    nodes = tuple(SwarmNode(n.name, n.host, {"pool": pool}) for n, pool in zip(swarm.nodes, ("a", "b"), strict=True))
    settings = SwarmSettings(nodes=nodes, placement=(PlacementRule({"pool": "b"}),), image=TAG)
    rt = SwarmRuntime(RuntimeConfig("swarm", "", "aaaa1111", str(repo), settings))
    assert rt.problems() == []
    spec = SessionSpec("s1", str(repo), {}, "exec sleep 300", labels={"run": "r1", "ticket": "T-1", "agent": "a"},
                       backend="swarm", mounts=(str(repo),))
    (info,) = rt.create_many([spec])
    assert info.created and info.pane_pid
    assert rt.sessions()["s1"].where == "swarm n2/mw-aaaa1111-s1"
    # another repository sees none of it and can neither end nor release it
    other = SwarmRuntime(RuntimeConfig("swarm", "", "bbbb2222", "/elsewhere", settings))
    assert other.sessions() == {} and not other.kill("s1") and other.release("r1") == []
    assert swarm.services() == ["mw-aaaa1111-s1"]
    # two metawsm processes making the same session at once (apply and the operator): one service, one session
    twins = [SwarmRuntime(RuntimeConfig("swarm", "", "aaaa1111", str(repo), settings)) for _ in range(2)]
    same = replace(spec, name="s3", labels={**spec.labels, "ticket": "T-3"})
    with ThreadPoolExecutor(2) as pool:
        infos = list(pool.map(lambda twin: twin.create(same), twins))
    assert sorted(info.created for info in infos) == [False, True], infos
    assert sorted(swarm.services()) == ["mw-aaaa1111-s1", "mw-aaaa1111-s3"]
    assert rt.kill("s3") and swarm.services() == ["mw-aaaa1111-s1"]
    # a service of the run whose session ended some other way is removed by release (what cleanup calls)
    (container,) = swarm.nodes[1].containers("label=metawsm.session=s1")
    swarm.nodes[1].docker("exec", container, "tmux", "-L", "metawsm", "kill-server")
    assert rt.release("r1") == ["service mw-aaaa1111-s1"]
    assert swarm.services() == [] and swarm.containers() == {}
    # a task swarm cannot run (no such image on the node) fails with swarm's reason and leaves nothing behind
    broken = SwarmRuntime(RuntimeConfig("swarm", "", "aaaa1111", str(repo), replace(settings, image="mw-none:1")))
    assert any("'mw-none:1' is not on swarm node n2" in p for p in broken.problems()), broken.problems()
    with pytest.raises(ExternalError, match="No such image"):
        broken.create(spec)
    assert swarm.services() == [] and swarm.containers() == {}


def test_review_scenario_across_the_two_nodes(swarm: swarmd.Swarm, project: Path, cli,  # type: ignore[no-untyped-def]  # noqa: F811
                                              tmux_socket: str) -> None:
    """tests/review's scenario (implementer, a reviewer whose requested changes go back as round 2 by
    review.auto_iterate, then its approval makes the ticket ready) with the implementer on n1 and the reviewer on
    n2: commits, signals and verdicts from both nodes' containers reach the gate."""
    from tests.backends.test_review_scenario import REVIEW_YAML, _reviewed
    from tests.engine.conftest import write_plan
    from tests.review.test_verdicts import AUTO

    use_swarm(project, swarm, tmux_socket, extra=REVIEW_YAML,
              first=[{"ticket": "DEMO-1", "agent": "reviewer", "labels": {"pool": "b"}}])
    write_plan(project, "auto", AUTO)
    try:
        result = cli("apply", "plans/auto.yaml", "--wait", "--timeout", "180", cwd=project)
        assert result.code == 0, result.out + result.err
        _reviewed(project)
        assert list(swarm.containers("label=metawsm.agent=impl")) == ["n1"]
        assert list(swarm.containers("label=metawsm.agent=reviewer")) == ["n2"]
    finally:
        result = cli("cleanup", "--force", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert swarm.services() == [] and swarm.containers() == {}
