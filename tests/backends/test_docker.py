"""The docker backend for real: a dockerd the tests start, the base image `metawsm image build` makes, the demo
plan end to end in containers, attach, a killed container restarted by the operator, cleanup leaving nothing."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from metawsm.runtime.base import RuntimeConfig, SessionSpec
from metawsm.runtime.docker import DockerRuntime
from metawsm.runtime.settings import DockerSettings
from tests.backends.conftest import TAG, Dockerd, docker_policy
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_of, agents_plan, start, status
from tests.operator._helpers import tick_process

pytestmark = [pytest.mark.backends, pytest.mark.slow, pytest.mark.tmux]


@pytest.fixture(autouse=True)
def leaves_no_container(dockerd: Dockerd) -> Iterator[None]:
    """Each test ends with no container in the daemon: one left behind is removed and fails the test."""
    yield
    left = [c["Names"] for c in dockerd.containers()]
    if left:
        dockerd.docker("rm", "-f", *left, check=False)
        pytest.fail(f"containers left behind: {left}")


def use_docker(root: Path, dockerd: Dockerd, tmux_socket: str, *, extra: str = "") -> None:
    (root / ".metawsm" / "policy.yaml").write_text(
        f"tmux:\n  socket_name: {tmux_socket}\n"
        "execution:\n  step_retries: 0\n  backoff: {initial_seconds: 0, max_seconds: 0}\n"
        + docker_policy(dockerd) + extra, encoding="utf-8")
    commit_all(root, "docker policy")


def containers(dockerd: Dockerd, root: Path) -> dict[str, dict[str, str]]:
    from metawsm.runtime.scope import repo_id

    return {c["Names"]: c for c in dockerd.containers(f"label=metawsm.repo={repo_id(root)}")}


def labels_of(dockerd: Dockerd, name: str) -> dict[str, str]:
    out = dockerd.docker("inspect", "--format", "{{json .Config.Labels}}", name).stdout
    return {k: v for k, v in json.loads(out).items() if k.startswith("metawsm.")}


def test_the_image_has_what_agents_need(dockerd: Dockerd, image: dict[str, object]) -> None:
    assert image["tag"] == TAG and set(image["packages"]) >= {"python3", "git", "tmux"}  # type: ignore[call-overload]
    out = dockerd.docker("run", "--rm", "--network", "none", TAG, "sh", "-c",
                         'echo "$PATH"; tmux -V; git --version; python3 --version').stdout.splitlines()
    assert out[0] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # ENV PATH of the import
    assert out[1].startswith("tmux 3") and out[2].startswith("git version") and out[3].startswith("Python 3")


def test_sessions_labels_limits_mounts_attach_and_ownership(dockerd: Dockerd, image: dict[str, object],
                                                            repo: Path, tmux_socket: str) -> None:
    settings = DockerSettings(image=TAG, host=dockerd.host, network="none", cpus=1, memory="256m", pids=64,
                              env=("METAWSM_TEST_SECRET",))
    rt = DockerRuntime(RuntimeConfig("docker", "", "aaaa1111", str(repo), settings))
    assert rt.problems() == []  # apply's preflight: the daemon answers and has the image
    for changed, said in ((replace(settings, image="metawsm-absent:1"), "docker image 'metawsm-absent:1' not found"),
                          (replace(settings, host="unix:///nonexistent/docker.sock"), "daemon is not reachable")):
        (problem,) = DockerRuntime(RuntimeConfig("docker", "", "aaaa1111", str(repo), changed)).problems()
        assert said in problem, problem
    _session_checks(dockerd, rt, repo, tmux_socket, settings)


def _session_checks(dockerd: Dockerd, rt: DockerRuntime, repo: Path, tmux_socket: str,
                    settings: DockerSettings) -> None:
    labels = {"run": "r1", "ticket": "T-1", "agent": "impl"}
    secret = "s3cr3t-value"
    os.environ["METAWSM_TEST_SECRET"] = secret  # the autouse fixture's monkeypatch does not know it: removed below
    try:
        (info,) = rt.create_many([SessionSpec("s1", str(repo), {"METAWSM_AGENT": "impl"}, "exec sleep 300",
                                              labels=labels, backend="docker", mounts=(str(repo),))])
    finally:
        del os.environ["METAWSM_TEST_SECRET"]
    assert info.created  # made by the new container's own command: no docker exec, so no pid reported
    name = "metawsm-aaaa1111-T-1"
    made = rt.sessions()["s1"]  # the first exec into it waited for the session the container made
    assert made.pid and not made.dead and made.labels["ticket"] == "T-1" and made.labels["repo"] == "aaaa1111"
    assert labels_of(dockerd, name) == {"metawsm.repo": "aaaa1111", "metawsm.home": str(repo),
                                        "metawsm.run": "r1", "metawsm.ticket": "T-1"}
    inspect = json.loads(dockerd.docker("inspect", name).stdout)[0]
    host = inspect["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["PidsLimit"], host["NetworkMode"]) == (
        10**9, 256 * 2**20, 64, "none")
    assert f"{os.getuid()}:{os.getgid()}" == inspect["Config"]["User"]
    assert "METAWSM_TEST_SECRET" not in " ".join(inspect["Args"])  # by name only: docker read the value
    pid = rt.respawn(SessionSpec(
        "s1", str(repo), {"METAWSM_AGENT": "impl"},
        'printf "%s|%s|%s\\n" "$(git log -1 --format=%s)" "$METAWSM_AGENT" "$METAWSM_TEST_SECRET"; exec sleep 300',
        labels={**labels, "attempt": "2"}, log=str(repo / "s1.log"), backend="docker"))
    assert pid
    wait_for(lambda: "initial|impl|" + secret in rt.capture("s1"), 30, "the agent's output")
    state = rt.sessions()["s1"]
    assert (state.backend, state.where, state.labels["attempt"], state.dead) == ("docker", f"docker:{name}", "2", False)
    assert "initial|impl|" in (repo / "s1.log").read_text()  # the transcript, written from inside
    # attach as a person would (in a terminal: a tmux pane of the test's own server), checked with capture-pane
    argv = rt.attach_command("s1")
    assert argv[:5] == ["docker", "-H", dockerd.host, "exec", "-it"] and argv[-3:] == ["attach-session", "-t", "=s1"]
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "viewer", "-x", "120", "-y", "20",
                    shlex.join(argv)], check=True)
    wait_for(lambda: "initial|impl|" in subprocess.run(
        ["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", "=viewer:"], capture_output=True, text=True).stdout,
        30, "the attached terminal showing the agent")
    rt.send("s1", "echo typed-in", enter=True)
    rt.paste("s1", "pasted\nlines", enter=False)
    assert "initial|impl|" in rt.screen("s1", ansi=False).text
    # another repository sees none of it and cannot adopt the container
    other = DockerRuntime(RuntimeConfig("docker", "", "bbbb2222", "/elsewhere", settings))
    assert other.sessions() == {} and not other.kill("s1")
    assert rt.kill("s1") and dockerd.containers() == []  # the container went with its last session
    # a container of the run whose sessions ended some other way is removed by release (what cleanup calls)
    rt.create(SessionSpec("s2", str(repo), {}, "exec sleep 300", labels={**labels, "ticket": "T-2"},
                          backend="docker", mounts=(str(repo),)))
    dockerd.docker("exec", "metawsm-aaaa1111-T-2", "tmux", "-L", "metawsm", "kill-server")
    assert other.release("r1") == [] and len(dockerd.containers()) == 1  # not the other repository's to remove
    assert rt.release("r1") == ["container metawsm-aaaa1111-T-2"] and dockerd.containers() == []
    # per: agent — one container per session, labelled with its agent too
    per_agent = DockerRuntime(RuntimeConfig("docker", "", "aaaa1111", str(repo), replace(settings, per="agent")))
    per_agent.create_many([SessionSpec(name, str(repo), {}, "exec sleep 300", labels={**labels, "agent": name},
                                       backend="docker", mounts=(str(repo),)) for name in ("a1", "a2")])
    assert {c["Names"] for c in dockerd.containers()} == {"metawsm-aaaa1111-a1", "metawsm-aaaa1111-a2"}
    assert labels_of(dockerd, "metawsm-aaaa1111-a2")["metawsm.agent"] == "a2"
    assert per_agent.kill("a1") and per_agent.kill("a2") and dockerd.containers() == []


def test_demo_plan_end_to_end_then_cleanup_leaves_no_container(dockerd: Dockerd, image: dict[str, object],
                                                               project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    use_docker(project, dockerd, tmux_socket)
    result = cli("apply", "plans/demo.yaml", "--wait", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    (run,) = json.loads(result.out.splitlines()[-1])["runs"]  # JSON lines: steps as they move, then the summary
    assert run["status"] == "complete", run
    for ticket in ("DEMO-1", "DEMO-2"):  # each agent committed in its container, as the repository's user
        log = git(project, "log", "-1", "--format=%an|%s", f"metawsm/{ticket}").strip()
        assert log.startswith("Test Author|" + ticket), log
    assert set(containers(dockerd, project)) == {f"metawsm-{n}" for n in _names(project, "DEMO-1", "DEMO-2")}
    agents = agents_of(status(cli, project))
    assert {a["backend"] for a in agents.values()} == {"docker"}
    # another run of the repository (its own ticket): cleaning up the first removes exactly the first's containers
    (project / "tickets" / "DEMO-3.yaml").write_text("id: DEMO-3\ntitle: Another\n", encoding="utf-8")
    other = start(cli, project, agents_plan(project, "other", {"w": "exec sleep 300"}, tickets=("DEMO-3",)))
    (mine,) = _names(project, "DEMO-3")
    assert labels_of(dockerd, f"metawsm-{mine}")["metawsm.run"] == other
    result = cli("cleanup", "--run", run["run_id"], "--force", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert set(containers(dockerd, project)) == {f"metawsm-{mine}"}
    assert agents_of(status(cli, project, "--run", other))["DEMO-3/w"]["status"] == "running"
    result = cli("cleanup", "--run", other, "--force", "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert containers(dockerd, project) == {}


def _names(root: Path, *tickets: str) -> list[str]:
    from metawsm.runtime.scope import repo_id

    return [f"{repo_id(root)}-{t}" for t in tickets]


def test_a_killed_container_is_a_dead_agent_the_operator_restarts(dockerd: Dockerd, image: dict[str, object],
                                                                   project: Path, cli, tmux_socket: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    use_docker(project, dockerd, tmux_socket,
               extra="operator:\n  unhealthy_confirmations: 1\n  restart_budget: 2\n  restart_cooldown_seconds: 0\n")
    run_id = start(cli, project, agents_plan(project, "op", {"w": "echo attempt $METAWSM_ATTEMPT; exec sleep 300"}))
    (container,) = containers(dockerd, project)
    agent = agents_of(status(cli, project))["DEMO-1/w"]
    assert (agent["status"], agent["backend"], agent["where"]) == ("running", "docker", f"docker:{container}")
    dockerd.docker("kill", container)
    agent = agents_of(status(cli, project))["DEMO-1/w"]
    assert agent["status"] == "dead" and "gone" in agent["health_reason"], agent
    (restart,) = tick_process(project)
    assert (restart["intent"], restart["executed"], restart["new_attempt"]) == ("restart", True, 2), restart
    wait_for(lambda: containers(dockerd, project).get(container, {}).get("State") == "running", 30, "the container")
    agent = agents_of(status(cli, project))["DEMO-1/w"]
    assert (agent["status"], agent["attempt"]) == ("running", 2), agent
    shown = run_metawsm("attach", "DEMO-1/w", "--json", cwd=project)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    command = json.loads(shown.stdout)["command"]
    capture = [*command[:3], "exec", container, "tmux", "-L", "metawsm", "capture-pane", "-p", "-t", "=op-DEMO-1-w:"]
    wait_for(lambda: "attempt 2" in subprocess.run(capture, capture_output=True, text=True, timeout=30).stdout,
             30, "the new attempt's output")
    result = cli("stop", "--run", run_id, "--json", cwd=project)
    assert result.code == 0, result.out + result.err
    assert containers(dockerd, project) == {}  # the container went with its last session
