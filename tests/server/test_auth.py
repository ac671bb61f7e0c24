"""Token, cookie login and Origin checks; loopback-only without a token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from metawsm.server.auth import COOKIE, is_loopback
from tests.server.conftest import AppFactory, connect

TOKEN = "s3cret-token-123"


@pytest.fixture
def secured(make_client: AppFactory) -> TestClient:
    return make_client(token=TOKEN)


def test_api_needs_the_bearer_token(secured: TestClient) -> None:
    r = secured.get("/api/v1/forum/threads")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert secured.get("/api/v1/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert secured.get("/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert secured.post("/api/v1/forum/threads", json={}).status_code == 401


def test_login_sets_an_http_only_cookie(secured: TestClient) -> None:
    bad = secured.post("/login", data={"token": "nope", "next": "/runs"}, follow_redirects=False)
    assert bad.status_code == 303 and bad.headers["location"].startswith("/login?error=1")
    assert COOKIE not in bad.cookies
    ok = secured.post("/login", data={"token": TOKEN, "next": "//evil.example"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "httponly" in ok.headers["set-cookie"].lower() and TOKEN not in ok.headers["set-cookie"]
    assert secured.get("/api/v1/forum/threads").status_code == 200  # the cookie now rides along
    secured.post("/logout", follow_redirects=False)
    secured.cookies.clear()
    assert secured.get("/api/v1/forum/threads").status_code == 401


def test_pages_redirect_to_login(secured: TestClient) -> None:
    r = secured.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"


def test_websocket_checks_token_and_origin(secured: TestClient, client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, secured.websocket_connect("/api/v1/forum/stream"):
        pass
    assert info.value.code == 4401
    with connect(secured, "/api/v1/forum/stream", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
    for c in (secured, client):  # a foreign Origin is refused, token or not
        with pytest.raises(WebSocketDisconnect) as info, c.websocket_connect("/api/v1/forum/stream", headers={
                "Origin": "http://evil.example", "Authorization": f"Bearer {TOKEN}"}):
            pass
        assert info.value.code == 4403
    with connect(client, "/api/v1/forum/stream", headers={"Origin": "http://127.0.0.1"}) as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("192.0.2.7", False), ("[::1]", True)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
