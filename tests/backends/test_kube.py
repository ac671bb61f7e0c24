"""The kubernetes backend for real, on the tests' own podman (`podman kube play` runs Kubernetes Pod manifests):

- the Pod `metawsm k8s render` prints runs under `podman kube play`; the commands the kubectl engine would run in it
  (everything after `kubectl exec … --`) run there through `podman exec`: tmux, the agent writing into the hostPath
  worktree, capture-pane; `podman kube down` leaves nothing;
- the demo plan end to end with `engine: podman` (the backend's own code path but for the client binary): pods
  made, agents reporting through a daemon the test starts with their own tokens, attach shown by capture-pane,
  cleanup leaving no pod;
- a pod removed under a running agent, or ended, is a dead agent the operator restarts in a new pod.

What this does not prove: talking to a real Kubernetes API server (none can run here): kubectl's own commands are
checked for their arguments, and the manifests against the Kubernetes schemas (test_kube_render.py)."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from metawsm.config.project import Project
from metawsm.state import StateStore
from tests.backends import kube
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, wait_for
from tests.server.conftest import free_port
from tests.server.test_serve import start, stop

# the first test also imports the image (and debootstraps it when no docker test cached the rootfs: minutes)
pytestmark = [pytest.mark.backends, pytest.mark.slow, pytest.mark.tmux, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def podman() -> Iterator[kube.Podman]:
    why = kube.missing()
    if why:
        pytest.skip(why)
    with kube.running() as found:
        yield found


@pytest.fixture(autouse=True)
def no_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test here leaves no pod and no container in the tests' podman."""
    yield
    if "podman" in request.fixturenames:
        podman = request.getfixturevalue("podman")
        pods, containers = podman.pods(), podman.containers()
        if pods or containers:  # remove them (only the tests' own live in this podman) so the next test starts clean
            podman.run("pod", "rm", "-a", "-f", "-t", "0", check=False)
            podman.run("rm", "-a", "-f", "-t", "0", check=False)
        assert pods == [] and containers == [], (pods, containers)


def _policy(tmux_socket: str, agent_url: str, engine: str = "podman") -> str:
    return json.dumps({
        "tmux": {"socket_name": tmux_socket},
        "server": {"agent_url": agent_url},
        "operator": {"unhealthy_confirmations": 1, "restart_cooldown_seconds": 0},
        "execution": {"backoff": {"initial_seconds": 0, "max_seconds": 0}},
        "runtime": {"backend": "kubernetes", "kubernetes": {
            "engine": engine, "image": kube.TAG, "image_pull_policy": "Never", "host_network": True,
            "requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}},
    }, indent=1)


def _setup(repo: Path, tmux_socket: str, engine: str = "podman") -> int:
    assert run_metawsm("init", "--demo", cwd=repo).returncode == 0
    port = free_port()
    (repo / ".metawsm" / "policy.yaml").write_text(_policy(tmux_socket, f"http://127.0.0.1:{port}", engine),
                                                    encoding="utf-8")
    commit_all(repo, "kubernetes policy")
    return port


def _run_id(repo: Path, plan: str) -> str:
    with StateStore(Project(repo).state_dir / "state.db") as store:
        return store.list_runs(plan_name=plan)[0].run_id


def _status(repo: Path, run_id: str) -> str:
    with StateStore(Project(repo).state_dir / "state.db") as store:
        return store.get_run(run_id).status


def _pane(tmux_socket: str, session: str) -> str:
    return subprocess.run(["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", f"={session}:"],
                          capture_output=True, text=True).stdout


def test_a_rendered_pod_runs_under_podman_kube_play(repo: Path, podman: kube.Podman, tmux_socket: str) -> None:
    from metawsm.runtime.kube_cli import Kubectl
    from metawsm.runtime.kube_manifest import as_yaml
    from metawsm.runtime.settings import KubeSettings

    _setup(repo, tmux_socket)  # engine podman: annotations over 63 characters are left out (podman 4.3 refuses them)
    # the ticket's worktree, as the workspace step makes it first (its .git file points into the repository)
    git(repo, "worktree", "add", "-q", "-b", "metawsm/DEMO-1", str(repo / ".metawsm" / "workspaces" / "DEMO-1"))
    rendered = run_metawsm("k8s", "render", "--plan", "demo", cwd=repo)
    assert rendered.returncode == 0, rendered.stderr
    pod = next(d for d in yaml.safe_load_all(rendered.stdout) if d and d["metadata"]["labels"]["metawsm/ticket"] == "DEMO-1")
    manifest = as_yaml([pod])
    played = podman.run("kube", "play", "-", input=manifest, check=False)
    try:
        assert played.returncode == 0, played.stderr
        name = pod["metadata"]["name"]
        [found] = podman.pods()
        assert found["Name"] == name and found["Labels"]["metawsm/repo"] == pod["metadata"]["labels"]["metawsm/repo"]
        kubectl = Kubectl(KubeSettings(context="team", namespace="agents"))

        def in_pod(*argv: str) -> subprocess.CompletedProcess[str]:
            full = kubectl.exec_argv(name, argv)
            assert full[:8] == ["kubectl", "--context", "team", "--namespace", "agents", "exec", name, "-c"]
            inner = full[full.index("--") + 1:]  # what kubectl would run in the container, run by podman
            return podman.run("exec", f"{name}-agent", *inner, check=False)

        worktree = pod["spec"]["containers"][0]["workingDir"]
        started = in_pod("tmux", "-u", "-L", "metawsm", "new-session", "-d", "-s", "agent", "-c", worktree,
                         "echo hello from the pod; echo made > made.txt; git -C . rev-parse --show-toplevel; "
                         "exec sleep 600")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: "hello from the pod" in in_pod("tmux", "-L", "metawsm", "capture-pane", "-p",
                                                         "-t", "=agent:").stdout, 60, "the agent's output")
        assert (Path(worktree) / "made.txt").read_text() == "made\n"  # written through the hostPath volume
        wait_for(lambda: worktree in in_pod("tmux", "-L", "metawsm", "capture-pane", "-p", "-J", "-t",
                                            "=agent:").stdout, 30, "git in the pod seeing the worktree")
        listed = in_pod("tmux", "-u", "-L", "metawsm", "list-panes", "-a", "-F", "#{session_name}\t#{pane_dead}")
        assert listed.stdout.splitlines() == ["agent\t0"]  # tabs stay tabs (LANG and -u)
        attach = kubectl.exec_argv(name, ["tmux", "attach"], tty=True)
        assert attach[5:9] == ["exec", "-i", "-t", name]
        # the keeper ends the pod once its last session has ended (so a Job would complete)
        assert in_pod("tmux", "-L", "metawsm", "kill-session", "-t", "=agent").returncode == 0
        wait_for(lambda: podman.pods()[0]["Status"] == "Exited", 60, "the pod to end with its session")
    finally:
        down = podman.run("kube", "down", "-", input=manifest, check=False)
    assert down.returncode == 0, down.stderr
    assert podman.pods() == [] and podman.containers() == []


def test_demo_plan_end_to_end_on_podman_pods(repo: Path, podman: kube.Podman, tmux_socket: str) -> None:
    port = _setup(repo, tmux_socket)
    daemon, _ = start(repo, port=port)
    tokens: list[str] = []
    try:
        applied = run_metawsm("apply", "plans/demo.yaml", "--json", cwd=repo, timeout=180)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        run_id = _run_id(repo, "demo")
        wait_for(lambda: _status(repo, run_id) == "complete", 120, "the demo run to complete in pods")
        for ticket in ("DEMO-1", "DEMO-2"):  # the agents committed in their hostPath worktrees
            assert git(repo, "show", f"metawsm/{ticket}:demo/{ticket}.txt").strip(), ticket
        status = json.loads(run_metawsm("status", "--run", run_id, "--json", cwd=repo).stdout)
        agents = status["runs"][0]["agents"]
        assert {a["backend"] for a in agents} == {"kubernetes"}, agents
        pods = {p["Labels"]["metawsm/ticket"]: p for p in podman.pods()}
        assert sorted(pods) == ["DEMO-1", "DEMO-2"]
        assert {p["Labels"]["metawsm/run"] for p in pods.values()} == {run_id}
        # the session's variables (its daemon token among them) are in a 0600 file in the pod, without METAWSM_HOME
        pod = pods["DEMO-1"]["Name"]
        env = podman.run("exec", f"{pod}-agent", "sh", "-c",
                         "stat -c %a /tmp/metawsm-env/demo-DEMO-1-writer.env; cat /tmp/metawsm-env/*.env").stdout
        assert env.startswith("600\n") and "METAWSM_HOME" not in env and f"METAWSM_RUN={run_id}" in env
        tokens = [line.split("=", 1)[1].strip("'") for line in env.splitlines() if "METAWSM_TOKEN=" in line]
        assert len(tokens) == 1 and tokens[0].startswith("mwa_")
        # attach: the command `metawsm attach` prints, run in a terminal (a local tmux pane), shows the pod's pane
        shown = json.loads(run_metawsm("attach", "DEMO-1/writer", "--run", run_id, "--json", cwd=repo).stdout)
        assert shown["command"][:4] == ["podman", "exec", "-i", "-t"], shown
        subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "viewer", "-x", "120", "-y", "30",
                        shlex.join(shown["command"])], check=True)
        wait_for(lambda: "completion recorded" in _pane(tmux_socket, "viewer"), 30, "the pod's pane in the terminal")
        subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=viewer"], check=False)
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", "--json", cwd=repo, timeout=180)
        assert cleaned.returncode == 0, cleaned.stderr
        assert podman.pods() == []
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    written = [p for p in (repo / ".metawsm").rglob("*") if p.is_file()]
    for token in tokens:  # in no log, no state, no transcript, nor in the daemon's output
        assert token not in err and not [p for p in written if token.encode() in p.read_bytes()]


def test_a_removed_pod_is_a_dead_agent_the_operator_restarts(repo: Path, podman: kube.Podman,
                                                            tmux_socket: str) -> None:
    port = _setup(repo, tmux_socket)
    (repo / "plans" / "long.yaml").write_text(
        "name: long\ntickets: [DEMO-1]\nagents:\n  - name: worker\n    profile: shell\n"
        "    run: echo started attempt $METAWSM_ATTEMPT; exec sleep 600\nchecks: ['true']\n", encoding="utf-8")
    commit_all(repo, "long plan")
    daemon, _ = start(repo, port=port)
    session = "long-DEMO-1-worker"

    def pane() -> str:
        pods = podman.pods()
        if not pods:
            return ""
        return podman.run("exec", f"{pods[0]['Name']}-agent", "tmux", "-L", "metawsm", "capture-pane", "-p", "-t",
                          f"={session}:", check=False).stdout

    try:
        assert run_metawsm("apply", "plans/long.yaml", cwd=repo, timeout=180).returncode == 0
        run_id = _run_id(repo, "long")
        wait_for(lambda: "attempt 1" in pane(), 60, "the first attempt in its pod")
        [first] = podman.pods()
        podman.run("pod", "rm", "-f", "-t", "0", first["Name"])
        for _ in range(3):  # seen dead (its pod is gone), then restarted (unhealthy_confirmations: 1)
            run_metawsm("operator", "--run", run_id, "--once", cwd=repo, timeout=180)
            if "attempt 2" in pane():
                break
        wait_for(lambda: "attempt 2" in pane(), 60, "the operator's restart in a new pod")
        [second] = podman.pods()
        assert second["Id"] != first["Id"] and second["Name"] == first["Name"]
        status = json.loads(run_metawsm("status", "--run", run_id, "--json", cwd=repo).stdout)
        [agent] = status["runs"][0]["agents"]
        assert (agent["attempt"], agent["where"]) == (2, f"pod/{second['Name']}"), agent
        # a pod that ended (its session killed inside: the keeper exits) is dead too, and is made again
        podman.run("exec", f"{second['Name']}-agent", "tmux", "-L", "metawsm", "kill-session", "-t", f"={session}")
        wait_for(lambda: podman.pods()[0]["Status"] != "Running", 60, "the pod to end with its session")
        for _ in range(3):
            run_metawsm("operator", "--run", run_id, "--once", cwd=repo, timeout=180)
            if "attempt 3" in pane():
                break
        wait_for(lambda: "attempt 3" in pane(), 60, "the restart in a pod made again")
        [third] = podman.pods()
        assert third["Id"] != second["Id"] and third["Status"] == "Running"
        stopped = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo, timeout=180)
        assert stopped.returncode == 0, stopped.stderr
        assert podman.pods() == []
    finally:
        code, err = stop(daemon)
    assert code == 0, err


def _pod_status(name: str, phase: str, reason: str = "", deleting: bool = False) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": "agents",
                               "labels": {"metawsm/repo": "abcd1234", "metawsm/pod": name.rsplit("-x", 1)[0]}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    state = {"waiting": {"reason": reason}} if reason else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "agent", "image": "i"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "agent", "image": "i", "imageID": "", "ready": not reason, "restartCount": 0,
                 "state": state}]}}


def test_the_kubectl_engine_commands(repo: Path, podman: kube.Podman, tmux_socket: str) -> None:
    """What the kubectl engine runs, checked without a cluster: each argv exactly; `apply`'s stdin is a List whose
    items validate against the Kubernetes schemas and run under podman; `get pods -o json` answers (a PodList valid
    against its schema) are read into running / stuck / deleting pods."""
    import kubernetes_validate as kv

    from metawsm.runtime.base import SessionSpec
    from metawsm.runtime.kube_cli import Kubectl, parse_pods
    from metawsm.runtime.kube_manifest import as_yaml, manifest, selector
    from metawsm.runtime.settings import KubeSettings

    settings = KubeSettings(context="team", namespace="agents", image=kube.TAG, image_pull_policy="Never",
                            host_network=True)
    kubectl = Kubectl(settings)
    base = ["kubectl", "--context", "team", "--namespace", "agents"]
    worktree = repo / ".metawsm" / "workspaces" / "T-1"
    worktree.mkdir(parents=True)
    # values Go's YAML would read as numbers (a repository id of digits, an agent named 1e5) stay strings
    spec = SessionSpec("p-T-1-1e5", str(worktree), labels={"run": "p-20260101-000000-abcd", "ticket": "T-1",
                                                             "agent": "1e5"}, mounts=(str(repo), str(worktree)))
    argv, stdin = kubectl.apply_call([manifest(settings, spec, "08696817", str(repo))])
    assert argv == [*base, "apply", "-f", "-"] and stdin is not None
    listed = json.loads(stdin)
    assert listed["kind"] == "List" and len(listed["items"]) == 1
    [pod] = listed["items"]
    kv.validate(pod, "1.30", strict=True)
    # podman 4.3 refuses annotation values over 63 characters (the repository's path): those are left out here
    pod["metadata"]["annotations"] = {k: v for k, v in pod["metadata"]["annotations"].items() if len(v) <= 63}
    manifest_yaml = as_yaml([pod])
    played = podman.run("kube", "play", "-", input=manifest_yaml, check=False)
    try:
        assert played.returncode == 0, played.stderr
        [found] = podman.pods()
        assert found["Labels"] == pod["metadata"]["labels"]
        assert found["Labels"]["metawsm/repo"] == "08696817" and found["Labels"]["metawsm/agent"] == "1e5"
        inner = kubectl.exec_argv(found["Name"], ["sh", "-c", "git -C . status --short --branch >/dev/null; pwd"])
        ran = podman.run("exec", f"{found['Name']}-agent", *inner[inner.index("--") + 1:], check=False)
        assert ran.stdout.strip() == str(worktree), ran.stderr
    finally:
        podman.run("kube", "down", "-", input=manifest_yaml, check=False)
    chosen = selector(repo="abcd1234", run="p-20260101-000000-abcd")
    assert chosen == "metawsm/repo=abcd1234,metawsm/run=p-20260101-000000-abcd"
    assert kubectl.pods_call(chosen) == ([*base, "get", "pods", "-l", chosen, "-o", "json"], None)
    assert kubectl.label_call("mw-a", {"metawsm/attempt": "2"}) == (
        [*base, "label", "pod", "mw-a", "--overwrite", "metawsm/attempt=2"], None)
    assert kubectl.delete_call(chosen) == ([*base, "delete", "pods,jobs", "-l", chosen, "--ignore-not-found",
                                            "--wait=false", "--cascade=background"], None)
    answer = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
        _pod_status("mw-a", "Running"), _pod_status("mw-b", "Pending", "ImagePullBackOff"),
        _pod_status("mw-c", "Running", deleting=True), _pod_status("mw-d-x1f2", "Failed")]}
    kv.validate(answer, "1.30", strict=True)
    pods = parse_pods(json.dumps(answer))
    assert [(p.name, p.key, p.phase, p.reason, p.running) for p in pods] == [
        ("mw-a", "mw-a", "Running", "", True), ("mw-b", "mw-b", "Pending", "ImagePullBackOff", False),
        ("mw-c", "mw-c", "Running", "", False), ("mw-d-x1f2", "mw-d", "Failed", "", False)]
