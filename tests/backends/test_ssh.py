"""The ssh backend against a real sshd the tests start (127.0.0.1, a free port, throwaway keys; stopped by pid):
the demo plan end to end with each ticket's worktree on the host (pushed and fetched through git over ssh), one
slot so the second ticket waits in the queue, attach shown by capture-pane, a killed remote session seen dead and
restarted by the operator, and cleanup leaving nothing on the host (refusing while remote work is unsaved)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.engine.context import Engine
from metawsm.server.app import create_app
from metawsm.state import StateStore
from tests.backends import sshd
from tests.conftest import git, run_metawsm
from tests.engine.conftest import commit_all, wait_for
from tests.server.conftest import LoopbackClient, free_port
from tests.server.test_serve import start, stop

pytestmark = [pytest.mark.backends, pytest.mark.slow, pytest.mark.tmux]

PASSED = ("HOME", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
          "GIT_CONFIG_NOSYSTEM")


def ssh_policy(server: sshd.Sshd, workdir: Path, control: Path, tmux_socket: str, agent_url: str,
               slots: int = 1, max_parallel: int = 4) -> str:
    return json.dumps({
        "tmux": {"socket_name": tmux_socket},
        "server": {"agent_url": agent_url},
        "operator": {"unhealthy_confirmations": 1, "restart_cooldown_seconds": 0},
        "execution": {"max_parallel": max_parallel, "backoff": {"initial_seconds": 0, "max_seconds": 0}},
        "runtime": {"backend": "ssh", "ssh": {
            "hosts": [{"name": "h1", "address": "127.0.0.1", "port": server.port, "user": server.user,
                       "key": str(server.key), "workdir": str(workdir), "slots": slots}],
            "known_hosts": str(server.known_hosts), "control_dir": str(control),
            "path": str(Path(sys.executable).parent), "env": list(PASSED)}},
    }, indent=1)


def remote(server: sshd.Sshd, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
                           f"UserKnownHostsFile={server.known_hosts}", "-i", str(server.key), "-p", str(server.port),
                           f"{server.user}@127.0.0.1", "--", command], capture_output=True, text=True, timeout=30)


def _setup(repo: Path, server: sshd.Sshd, tmp_path: Path, control: Path, tmux_socket: str,
           slots: int = 1, max_parallel: int = 4) -> tuple[Path, int]:
    assert run_metawsm("init", "--demo", cwd=repo).returncode == 0
    port = free_port()
    workdir = tmp_path / "remote"
    (repo / ".metawsm" / "policy.yaml").write_text(
        ssh_policy(server, workdir, control, tmux_socket, f"http://127.0.0.1:{port}", slots, max_parallel),
        encoding="utf-8")
    commit_all(repo, "ssh policy")
    return workdir, port


def _run_id(repo: Path, plan: str) -> str:
    with StateStore(Project(repo).state_dir / "state.db") as store:
        return store.list_runs(plan_name=plan)[0].run_id


def _status(repo: Path, run_id: str) -> str:
    with StateStore(Project(repo).state_dir / "state.db") as store:
        return store.get_run(run_id).status


def test_demo_plan_end_to_end_on_ssh(repo: Path, server: sshd.Sshd, tmp_path: Path, control: Path,
                                     tmux_socket: str) -> None:
    workdir, port = _setup(repo, server, tmp_path, control, tmux_socket, slots=1)
    daemon, _ = start(repo, port=port)
    try:
        applied = run_metawsm("apply", "plans/demo.yaml", "--json", cwd=repo, timeout=120)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        run_id = _run_id(repo, "demo")
        wait_for(lambda: _status(repo, run_id) == "complete", 120, "the demo run to complete on ssh")
        assert "queued: every ssh host is full" in applied.stdout, applied.stdout  # one slot: DEMO-2 waited
        for ticket in ("DEMO-1", "DEMO-2"):  # the agents' commits came back through git over ssh
            shown = git(repo, "show", f"metawsm/{ticket}:demo/{ticket}.txt")
            assert shown.strip(), ticket
        status = json.loads(run_metawsm("status", "--run", run_id, "--json", cwd=repo).stdout)
        agents = status["runs"][0]["agents"]
        assert {a["backend"] for a in agents} == {"ssh"}, agents
        listed = remote(server, f"tmux -S {shlex.quote(str(next(workdir.glob('*/tmux.sock'))))} list-sessions "
                                "-F '#{session_name}'")
        assert sorted(listed.stdout.split()) == ["demo-DEMO-1-writer", "demo-DEMO-2-writer"], listed
        # attach: `metawsm attach` prints the ssh command; run in a terminal (a local tmux pane) it shows the pane
        # the agents' variables (their daemon token among them) reach the host in 0600 files only
        env_files = sorted(workdir.glob("*/env/*.env"))
        assert [f.name for f in env_files] == ["demo-DEMO-1-writer.env", "demo-DEMO-2-writer.env"], env_files
        tokens = [line.split("=", 1)[1].strip("'") for f in env_files for line in f.read_text().splitlines()
                  if line.startswith("export METAWSM_TOKEN=")]
        assert len(tokens) == 2 and all(t.startswith("mwa_") for t in tokens)
        assert all(f.stat().st_mode & 0o777 == 0o600 for f in env_files)
        assert "METAWSM_HOME" not in env_files[0].read_text()
        shown = run_metawsm("attach", "DEMO-1/writer", "--run", run_id, "--json", cwd=repo)
        argv = json.loads(shown.stdout)["command"]
        assert argv[0] == "ssh" and "-t" in argv, argv
        subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "viewer", "-x", "120", "-y", "30",
                        shlex.join(argv)], check=True)
        wait_for(lambda: "completion recorded" in subprocess.run(
            ["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", "=viewer:"], capture_output=True,
            text=True).stdout, 30, "the remote pane in the attached terminal")
        subprocess.run(["tmux", "-L", tmux_socket, "kill-session", "-t", "=viewer"], check=False)
        # transcripts: written on the host, brought back when read — by `metawsm logs` and by the web UI
        logs = run_metawsm("logs", "DEMO-1/writer", "--run", run_id, "--json", cwd=repo, timeout=120)
        assert logs.returncode == 0, logs.stdout + logs.stderr
        shown_log = json.loads(logs.stdout)
        assert shown_log["attempts"] == [1] and "completion recorded" in shown_log["text"], shown_log
        with LoopbackClient(create_app(Project(repo), load_policy(Project(repo)), worker=False),
                            base_url="http://127.0.0.1") as client:
            page = client.get(f"/runs/{run_id}")
            assert f"/runs/{run_id}/agents/DEMO-2/writer/transcript?attempt=1" in page.text
            assert '<span class="muted small" data-where>ssh' in page.text  # where each agent runs
            page = client.get(f"/runs/{run_id}/agents/DEMO-2/writer/transcript")
            assert page.status_code == 200 and "completion recorded" in page.text, page.text[-2000:]
        closed = run_metawsm("close", "--ticket", "DEMO-1", cwd=repo, timeout=120)  # merged: saved, so removable
        assert closed.returncode == 0, closed.stdout + closed.stderr
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", "--json", cwd=repo, timeout=120)
        assert cleaned.returncode == 0, cleaned.stderr
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert not any(workdir.iterdir()), list(workdir.rglob("*"))  # nothing left on the host
    kept = Project(repo).logs_dir / run_id / "DEMO-2" / "writer.1.log"  # cleanup brought it back first
    assert "completion recorded" in kept.read_text(encoding="utf-8", errors="replace")
    written = [p for p in (repo / ".metawsm").rglob("*") if p.is_file()]
    for token in tokens:  # in no log, no state, no transcript, nor in the daemon's output
        assert token not in err and not [p for p in written if token.encode() in p.read_bytes()]


def test_killed_remote_session_is_restarted_and_cleanup_refuses_unsaved_work(
        repo: Path, server: sshd.Sshd, tmp_path: Path, control: Path, tmux_socket: str) -> None:
    workdir, port = _setup(repo, server, tmp_path, control, tmux_socket, slots=2)
    (repo / "plans" / "long.yaml").write_text(
        "name: long\ntickets: [DEMO-1]\nagents:\n  - name: worker\n    profile: shell\n"
        "    run: echo started attempt $METAWSM_ATTEMPT; exec sleep 600\nchecks: ['true']\n", encoding="utf-8")
    (repo / "plans" / "other.yaml").write_text(  # another run of the repository on the same host
        "name: other\ntickets: [DEMO-2]\nagents:\n  - {name: worker, profile: shell, run: exec sleep 600}\n",
        encoding="utf-8")
    commit_all(repo, "long plan")
    daemon, _ = start(repo, port=port)
    try:
        assert run_metawsm("apply", "plans/long.yaml", cwd=repo, timeout=120).returncode == 0
        assert run_metawsm("apply", "plans/other.yaml", cwd=repo, timeout=120).returncode == 0
        run_id, other_id = _run_id(repo, "long"), _run_id(repo, "other")
        sock = str(next(workdir.glob("*/tmux.sock")))
        session = "long-DEMO-1-worker"
        wait_for(lambda: "attempt 1" in remote(server, f"tmux -S {sock} capture-pane -p -t ={session}:").stdout,
                 60, "the first attempt on the host")
        status = json.loads(run_metawsm("status", "--run", run_id, "--json", cwd=repo).stdout)
        assert [(a["backend"], a["where"]) for a in status["runs"][0]["agents"]] == [("ssh", "ssh h1")], status
        assert remote(server, f"tmux -S {sock} kill-session -t ={session}").returncode == 0
        for _ in range(3):  # seen dead, then restarted (unhealthy_confirmations: 1)
            run_metawsm("operator", "--run", run_id, "--once", cwd=repo, timeout=120)
            if "attempt 2" in remote(server, f"tmux -S {sock} capture-pane -p -t ={session}:").stdout:
                break
        wait_for(lambda: "attempt 2" in remote(server, f"tmux -S {sock} capture-pane -p -t ={session}:").stdout,
                 60, "the operator's restart on the host")
        # the live screen and a message typed through a paste buffer, both on the host
        eng = Engine.open(Project(repo))
        try:
            assert "attempt 2" in eng.runtime.screen(session, ansi=False).text
            eng.runtime.paste(session, "hello from afar", enter=False)
            wait_for(lambda: "hello from afar" in eng.runtime.capture(session), 30, "the pasted text")
        finally:
            eng.close()
        # unsaved work on the host: cleanup ends the sessions but keeps that worktree, and says why
        wt = next(p for p in next(workdir.iterdir()).iterdir() if p.is_dir() and p.name.endswith("DEMO-1"))
        (wt / "unsaved.txt").write_text("work\n", encoding="utf-8")
        refused = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo, timeout=120)
        assert refused.returncode != 0 and "unsaved.txt" not in refused.stderr and "uncommitted" in refused.stderr
        assert (wt / "unsaved.txt").exists()
        (wt / "unsaved.txt").unlink()
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo, timeout=120)
        assert cleaned.returncode == 0, cleaned.stderr
        # cleanup removed exactly what it made for that run: the other run's worktree, bookkeeping and session stay
        base = next(workdir.iterdir())
        assert not wt.exists() and [p.name for p in base.glob("meta/*.json")] == ["DEMO-2.json"]
        meta = json.loads((base / "meta" / "DEMO-2.json").read_text())
        assert (meta["repo"], meta["home"], meta["run"], meta["ticket"]) == (base.name, str(repo), other_id, "DEMO-2")
        assert Path(meta["worktree"]).is_dir()
        listed = remote(server, f"tmux -S {sock} list-sessions -F '#{{session_name}} #{{@metawsm_run}}'")
        assert listed.stdout.split() == ["other-DEMO-2-worker", other_id], listed
        cleaned = run_metawsm("cleanup", "--run", other_id, "--force", cwd=repo, timeout=120)
        assert cleaned.returncode == 0, cleaned.stderr
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert not any(workdir.iterdir()), list(workdir.rglob("*"))
    assert list(control.iterdir()) == []  # the shared connection ended with the last of the repository's work


def _agents(repo: Path, run_id: str) -> dict[str, dict[str, object]]:
    out = run_metawsm("status", "--run", run_id, "--json", cwd=repo, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return {a["key"]: a for a in json.loads(out.stdout)["runs"][0]["agents"]}


def test_a_session_queued_for_a_host_slot_holds_no_max_parallel_slot(
        repo: Path, server: sshd.Sshd, tmp_path: Path, control: Path, tmux_socket: str) -> None:
    """max_parallel 2, one ssh slot: DEMO-1/far takes the host's slot and DEMO-2/far waits for it — without taking
    one of the run's two slots, so DEMO-1/near starts beside DEMO-1/far; DEMO-2/near waits for max_parallel.
    `status` (text and --json) says which agents wait and why, and the queue drains when DEMO-1 stops."""
    workdir, _ = _setup(repo, server, tmp_path, control, tmux_socket, slots=1, max_parallel=2)
    (repo / "plans" / "q.yaml").write_text(
        "name: q\ntickets: [DEMO-1, DEMO-2]\nagents:\n"
        "  - {name: far, profile: shell, run: 'echo far $METAWSM_TICKET; exec sleep 600'}\n"
        "  - {name: near, profile: shell, runtime: local, run: 'exec sleep 600'}\n"
        "checks: ['true']\n", encoding="utf-8")
    commit_all(repo, "queue plan")
    applied = run_metawsm("apply", "plans/q.yaml", cwd=repo, timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    run_id = _run_id(repo, "q")
    try:
        agents = _agents(repo, run_id)
        assert {k: a["status"] for k, a in agents.items()} == {
            "DEMO-1/far": "running", "DEMO-1/near": "running", "DEMO-2/far": "pending", "DEMO-2/near": "pending"}
        assert agents["DEMO-1/far"]["where"] == "ssh h1" and agents["DEMO-1/near"]["backend"] == "local"
        assert agents["DEMO-2/far"]["queued"] == "every ssh host is full (h1: 1 of 1 slots)", agents["DEMO-2/far"]
        assert "execution.max_parallel" in agents["DEMO-2/near"]["queued"], agents["DEMO-2/near"]
        assert agents["DEMO-1/far"]["queued"] == "" and agents["DEMO-1/near"]["queued"] == ""
        text = run_metawsm("status", "--run", run_id, cwd=repo, timeout=120, env={"COLUMNS": "250"}).stdout
        row = next(line for line in text.splitlines() if "DEMO-2/far" in line)
        assert "queued" in row and "every ssh host is full" in row, text
        assert "ssh h1" in next(line for line in text.splitlines() if "DEMO-1/far" in line), text
        with LoopbackClient(create_app(Project(repo), load_policy(Project(repo)), worker=False),
                            base_url="http://127.0.0.1") as client:  # the web UI's run page says it too
            page = client.get(f"/runs/{run_id}").text
            assert '<span class="small" data-queued>queued: every ssh host is full (h1: 1 of 1 slots)' in page
        # DEMO-1 stops: its host slot and its run slots free up, and the queue drains on the next reconcile
        stopped = run_metawsm("stop", "--ticket", "DEMO-1", cwd=repo, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        eng = Engine.open(Project(repo))
        try:
            from metawsm.engine.reconcile import reconcile

            reconcile(eng, run_id)
        finally:
            eng.close()
        agents = _agents(repo, run_id)
        assert (agents["DEMO-2/far"]["status"], agents["DEMO-2/near"]["status"]) == ("running", "running"), agents
        assert agents["DEMO-2/far"]["queued"] == "" and agents["DEMO-2/far"]["where"] == "ssh h1"
    finally:
        cleaned = run_metawsm("cleanup", "--run", run_id, "--force", cwd=repo, timeout=120)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert not any(workdir.iterdir()), list(workdir.rglob("*"))
