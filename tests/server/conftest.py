"""A temp project with a forum, the daemon's app on it (TestClient), and a real uvicorn server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metawsm.cli.main import main
from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.forum import Forum
from metawsm.server.app import create_app


@pytest.fixture
def proj(repo: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    assert main(["-C", str(repo), "init"]) == 0
    capsys.readouterr()
    return Project(repo)


@pytest.fixture
def forum(proj: Project) -> Iterator[Forum]:
    f = Forum.for_project(proj, load_policy(proj))
    yield f
    f.shutdown()


AppFactory = Callable[..., TestClient]


class LoopbackClient(TestClient):
    """TestClient speaking to 127.0.0.1 (the daemon refuses other Host names: DNS rebinding), for
    WebSocket connections too (TestClient's default is ws://testserver)."""

    def websocket_connect(self, url: str, *args: Any, **kwargs: Any) -> Any:
        from urllib.parse import urljoin

        return super().websocket_connect(urljoin("ws://127.0.0.1", url), *args, **kwargs)


@pytest.fixture
def make_client(proj: Project) -> Iterator[AppFactory]:
    clients: list[TestClient] = []

    def make(**kwargs: Any) -> TestClient:
        kwargs.setdefault("worker", False)
        client = LoopbackClient(create_app(proj, load_policy(proj), **kwargs), base_url="http://127.0.0.1")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def live(proj: Project) -> Callable[..., LiveServer]:
    def make(**kwargs: Any) -> LiveServer:
        kwargs.setdefault("worker", False)
        return LiveServer(create_app(proj, load_policy(proj), **kwargs))

    return make


@contextlib.contextmanager
def connect(client: TestClient, url: str, **kwargs: Any) -> Iterator[Any]:
    """TestClient's websocket, closed by the client and given time to end before the session is torn
    down (TestClient cancels an app still running when its `with` block ends)."""
    hub = client.app.state.hub  # type: ignore[attr-defined]
    with client.websocket_connect(url, **kwargs) as ws:
        yield ws
        ws.close()
        deadline = time.monotonic() + 3
        while hub.subscribers and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)


