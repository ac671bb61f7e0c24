"""The forum WebSocket: catch-up of one page, live delivery, heartbeats, pings, reconnect with a
cursor, filters, bad parameters and a slow client cut off with 1013."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metawsm.forum import Forum
from tests.server.conftest import AppFactory, connect

STREAM = "/api/v1/forum/stream"


def seed(forum: Forum, n: int, ticket: str = "T-1") -> list[str]:
    return [forum.open_thread(ticket, f"thread {i}", "body", actor_type="human", actor_name="alice").thread_id
            for i in range(n)]


def frames_until(ws: Any, predicate: Any, limit: int = 100) -> list[dict[str, Any]]:
    got = []
    for _ in range(limit):
        frame = ws.receive_json()
        got.append(frame)
        if predicate(frame, got):
            return got
    raise AssertionError(f"no matching frame in {got}")


def seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [e["sequence"] for f in frames if f["type"] == "forum.events" for e in f["events"]]


def wait_head(client: TestClient, head: int) -> None:
    """Until the hub has read the log up to `head` (so seeded events are history, not live)."""
    hub = client.app.state.hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while hub.head < head and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hub.head >= head


def test_catch_up_sends_one_page_then_live(client: TestClient, forum: Forum) -> None:
    """As the Go server: one page of `limit` events after the cursor, then only live events (a
    client pages through /forum/events for the rest)."""
    seed(forum, 25)
    wait_head(client, 25)
    with connect(client, f"{STREAM}?cursor=0&limit=10") as ws:
        first = ws.receive_json()
        assert first["type"] == "forum.events" and first["sent_at"].endswith("Z")
        assert seqs([first]) == list(range(1, 11)) and first["next_cursor"] == 10
        seed(forum, 2)
        live = frames_until(ws, lambda f, got: 27 in seqs(got))
        assert seqs(live) == [26, 27] and live[-1]["next_cursor"] == 27


def test_reconnect_with_cursor_and_filters(client: TestClient, forum: Forum) -> None:
    seed(forum, 3, "T-1")
    seed(forum, 3, "T-2")
    wait_head(client, 6)
    with connect(client, f"{STREAM}?cursor=2") as ws:
        assert seqs(frames_until(ws, lambda f, got: True)) == [3, 4, 5, 6]
    with connect(client, f"{STREAM}?cursor=0&ticket=T-2") as ws:
        first = ws.receive_json()
        assert seqs([first]) == [4, 5, 6] and first["next_cursor"] == 6
        seed(forum, 1, "T-1")
        seed(forum, 1, "T-2")
        frame = ws.receive_json()
        assert [(e["sequence"], e["envelope"]["ticket"]) for e in frame["events"]] == [(8, "T-2")]
    forum.open_thread("T-3", "x", "y", run_id="R9", actor_type="human", actor_name="a")
    with connect(client, f"{STREAM}?run_id=r9") as ws:  # run ids match case-insensitively, as in Go
        assert [e["envelope"]["run_id"] for e in ws.receive_json()["events"]] == ["R9"]


def test_heartbeat_and_ping(make_client: AppFactory, forum: Forum) -> None:
    client = make_client(heartbeat=0.2)
    seed(forum, 1)
    with connect(client, STREAM) as ws:
        assert ws.receive_json()["type"] == "forum.events"
        beat = ws.receive_json()
        assert beat["type"] == "heartbeat" and beat["next_cursor"] == 1 and "sent_at" in beat
        ws.send_text(json.dumps({"type": "ping"}))
        pong = frames_until(ws, lambda f, got: f["type"] == "pong")[-1]
        assert pong["next_cursor"] == 1
        ws.send_text("not json")  # ignored, the stream goes on
        ws.send_bytes(b'{"type": "ping"}')
        frames_until(ws, lambda f, got: f["type"] == "pong")


@pytest.mark.parametrize(("query", "code"), [("cursor=-1", "invalid_cursor"), ("cursor=abc", "invalid_cursor"),
                                           ("limit=0", "invalid_limit")])
def test_bad_parameters_are_http_400_before_the_upgrade(client: TestClient, query: str, code: str) -> None:
    from starlette.testclient import WebSocketDenialResponse

    with pytest.raises(WebSocketDenialResponse) as denied, connect(client, f"{STREAM}?{query}"):
        pass
    assert denied.value.status_code == 400
    assert denied.value.json()["error"]["code"] == code


def test_clean_close_by_client_and_server_shutdown(make_client: AppFactory, forum: Forum) -> None:
    client = make_client()
    with connect(client, STREAM) as ws:
        ws.close()
    hub = client.app.state.hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 3
    while hub.subscribers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not hub.subscribers


def raw_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def close_code(data: bytes) -> int | None:
    """The code of the first close frame (opcode 8) in a stream of server frames."""
    i = 0
    while i + 2 <= len(data):
        opcode, size, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if size == 126:
            size, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif size == 127:
            size, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        if opcode == 8 and size >= 2 and i + 2 <= len(data):
            return int.from_bytes(data[i:i + 2], "big")
        i += size
    return None


def last_close_code(sock: socket.socket) -> int | None:
    """Read what is left until a close frame (or EOF); its code."""
    sock.settimeout(10)
    data = b""
    while (code := close_code(data)) is None:
        try:
            chunk = sock.recv(1 << 20)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return code


def test_slow_client_is_disconnected_with_1013(live: Any, forum: Forum) -> None:
    """A client that stops reading fills its queue; it is cut off while a reading client keeps going."""
    from websockets.sync.client import connect

    server = live(stream_queue=4, poll=0.01)
    with server:
        url = f"ws://127.0.0.1:{server.port}{STREAM}"
        slow = raw_client(server.port)
        fast = connect(url, max_size=None)
        hub = server.server.config.app.state.hub
        deadline = time.monotonic() + 30
        big = "x" * 60000
        tid = forum.open_thread("T-1", "big", big, actor_type="human", actor_name="a").thread_id
        received = 0
        while hub.disconnected_slow == 0 and time.monotonic() < deadline:
            forum.post(tid, big, actor_type="human", actor_name="a")
            while True:  # the fast client keeps reading
                try:
                    received += len(json.loads(fast.recv(0.05))["events"])
                except TimeoutError:
                    break
        assert hub.disconnected_slow == 1, (received, hub.stats())
        assert received > 0
        assert last_close_code(slow) == 1013
        forum.post(tid, "still flowing", actor_type="human", actor_name="a")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = json.loads(fast.recv(5))
            if frame["type"] == "forum.events" and json.loads(frame["events"][-1]["payload_json"]).get("body") == "still flowing":
                break
        else:
            raise AssertionError("the fast client stopped receiving")
        fast.close()
