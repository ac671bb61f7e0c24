"""`metawsm serve` as a real process: answers health, refuses non-loopback without a token, needs the
token when given one, and stops cleanly on SIGTERM (WebSocket clients get a close frame)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from metawsm.config.project import Project
from tests.conftest import run_metawsm
from tests.server.conftest import free_port


def start(root: Path, *args: str, port: int | None = None) -> tuple[subprocess.Popen[str], str]:
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(root), "serve",
                             "--addr", f"127.0.0.1:{port}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1)
            return proc, url
        except urllib.error.HTTPError:
            return proc, url  # it answers (401 with a token)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"serve did not start: {proc.communicate()}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


def test_serve_answers_and_stops_on_sigterm(proj: Project) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    proc, url = start(proj.root)
    try:
        health = json.load(urllib.request.urlopen(f"{url}/api/v1/health", timeout=5))
        assert health["status"] == "ok"
        ws = connect(url.replace("http", "ws") + "/api/v1/forum/stream")
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(5))["type"] == "pong"
    finally:
        code, err = stop(proc)
    assert code == 0, err
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(5)
    assert info.value.rcvd is not None and info.value.rcvd.code in (1001, 1012)


def test_serve_with_a_token(proj: Project, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("serve-token-xyz\n", encoding="utf-8")
    proc, url = start(proj.root, "--token-file", str(token))
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=5)
        assert info.value.code == 401
        req = urllib.request.Request(f"{url}/api/v1/health", headers={"Authorization": "Bearer serve-token-xyz"})
        assert json.load(urllib.request.urlopen(req, timeout=5))["status"] == "ok"
    finally:
        assert stop(proc)[0] == 0


def test_non_loopback_needs_a_token(proj: Project) -> None:
    r = run_metawsm("serve", "--addr", "0.0.0.0:0", cwd=proj.root)
    assert r.returncode == 2 and "needs a token" in r.stderr
    r = run_metawsm("serve", "--addr", "nonsense", cwd=proj.root)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
