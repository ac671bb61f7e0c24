"""Live agent screens over the API and the stream, against a real `metawsm serve` and real tmux sessions: the
screen route (escaped HTML), the message route (refused without a token, pasted and posted with one), stream
frames only while subscribed, one capture loop shared by every client, and the OpenAPI entries."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from metawsm.server.ansi_html import plain, to_html
from tests.engine.conftest import engine, project, wait_for  # noqa: F401 - fixture
from tests.lifecycle._health_project import agents_plan, start
from tests.server.conftest_browser import serve

pytestmark = [pytest.mark.tmux]

TOKEN = "screen-test-token-1"
PRINTER = "printf '\\033[31mred\\033[0m <img src=x onerror=alert(1)> & done\\n'; exec cat"


class Daemon(NamedTuple):
    base: str
    run_id: str
    socket: str
    root: Path


@pytest.fixture
def daemon(project: Path, cli: Any, tmux_socket: str, tmp_path: Path) -> Iterator[Daemon]:  # noqa: F811
    run_id = start(cli, project, agents_plan(project, "scr", {"tty": PRINTER}))
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    with serve(project, tmp_path / "serve.log", "--token-file", str(token)) as base:
        yield Daemon(base, run_id, tmux_socket, project)


def call(base: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_ansi_to_html_escapes_everything_and_keeps_colours() -> None:
    html = to_html("\x1b[1;31mred <b>&\x1b[0m \x1b]0;title\x07\x1b[2Jok \x1b[38;2;1;2;3mrgb\x1b[m\x07")
    assert html == ('<span style="color:#cd3131;font-weight:bold">red &lt;b&gt;&amp;</span> ok '
                    '<span style="color:#010203">rgb</span>')
    assert plain("\x1b[31mred\x1b[0m\x1b]0;t\x07 x\x00") == "red x"
    assert to_html("\x1b[38;5;999mX") == '<span style="color:#eeeeee">X</span>'  # clamped to the 256 colours
    assert to_html("\x1b[48;2;-1x<") == "48;2;-1x&lt;"  # a broken sequence: its ESC dropped, the rest is text
    assert len(to_html("<" * 1_000_000)) == 200_000 * 4  # bounded input


def test_screen_route_and_message_route(daemon: Daemon) -> None:
    path = f"/api/v1/runs/{daemon.run_id}/agents/DEMO-1/tty"
    wait_for(lambda: "done" in call(daemon.base, path + "/screen")[1].get("screen", {}).get("text", ""),
             what="the agent's output on its screen")
    code, data = call(daemon.base, path + "/screen")
    screen = data["screen"]
    assert code == 200 and screen["alive"] and screen["session"] == "scr-DEMO-1-tty"
    assert screen["text"].splitlines()[0] == "red <img src=x onerror=alert(1)> & done"
    assert screen["html"].splitlines()[0] == ('<span style="color:#cd3131">red</span> '
                                              '&lt;img src=x onerror=alert(1)&gt; &amp; done')
    assert call(daemon.base, path + "/screen", token=None)[0] == 401
    assert call(daemon.base, f"/api/v1/runs/{daemon.run_id}/agents/DEMO-1/nobody/screen")[0] == 404
    assert call(daemon.base, "/api/v1/runs/nope/agents/DEMO-1/tty/screen")[1]["error"]["code"] == "not_found"

    assert call(daemon.base, path + "/message", {"text": "hi"}, token=None)[0] == 401
    code, sent = call(daemon.base, path + "/message", {"text": "hello <agent>\nsecond line", "actor_name": "ann"})
    assert code == 200, sent
    wait_for(lambda: "second line" in call(daemon.base, path + "/screen")[1]["screen"]["text"],
             what="the message echoed by cat")
    thread = sent["message"]["thread_id"]
    posts = call(daemon.base, f"/api/v1/forum/threads/{thread}")[1]["posts"]
    assert posts[-1]["body"] == "message typed into DEMO-1/tty's session (attempt 1):\nhello <agent>\nsecond line"
    assert posts[-1]["author_name"] == "ann"
    assert call(daemon.base, path + "/message", {"text": " "})[0] == 400
    assert call(daemon.base, path + "/message", {"text": "x" * 15_001})[0] == 400

    subprocess.run(["tmux", "-L", daemon.socket, "kill-session", "-t", "=scr-DEMO-1-tty"], check=True)
    code, data = call(daemon.base, path + "/screen")
    assert code == 404 and "no running session" in data["error"]["message"]


def test_message_refused_by_a_daemon_without_a_token(project: Path, cli: Any, tmux_socket: str,  # noqa: F811
                                                     tmp_path: Path) -> None:
    run_id = start(cli, project, agents_plan(project, "nt", {"tty": "exec cat"}))
    with serve(project, tmp_path / "serve.log") as base:
        code, data = call(base, f"/api/v1/runs/{run_id}/agents/DEMO-1/tty/message", {"text": "rm -rf ~"}, token=None)
        assert code == 403 and data["error"]["code"] == "auth_required"
        assert "--token-file" in data["error"]["message"]
        page = urllib.request.urlopen(f"{base}/runs/{run_id}", timeout=10).read().decode()
        assert 'class="stack send"' not in page and "needs a daemon started with a token" in page
    events = engine(project).forum.events(0, 1000)[0]
    assert not any("rm -rf" in json.dumps(e.payload) for e in events)  # nothing typed, nothing posted


def test_stream_sends_screen_frames_only_while_subscribed(daemon: Daemon) -> None:
    from websockets.sync.client import connect

    url = daemon.base.replace("http", "ws") + f"/api/v1/forum/stream?run_id={daemon.run_id}&token={TOKEN}"
    target = {"run_id": daemon.run_id, "ticket": "DEMO-1", "agent": "tty"}

    def next_screen(ws: Any) -> dict[str, Any]:
        while True:
            frame = json.loads(ws.recv(timeout=20))
            if frame["type"] in ("agent.screen", "error"):
                return frame  # type: ignore[no-any-return]

    with connect(url) as one, connect(url) as two:
        for ws in (one, two):
            ws.send(json.dumps({"type": "screen.subscribe", **target}))
        first = [next_screen(one), next_screen(two)]
        assert {f["type"] for f in first} == {"agent.screen"}
        assert all(f["agent"] == "tty" and "&lt;img" in f["screen"]["html"] for f in first)
        stats = call(daemon.base, "/api/v1/health")[1]["stream"]
        assert stats["screens_watched"] == 1 and stats["screen_subscribers"] == 2  # one capture loop for both
        subprocess.run(["tmux", "-L", daemon.socket, "send-keys", "-t", "=scr-DEMO-1-tty:", "-l", "pane changed"],
                       check=True)
        for ws in (one, two):
            frame = next_screen(ws)
            while "pane changed" not in frame["screen"]["text"]:
                frame = next_screen(ws)
        for ws in (one, two):
            ws.send(json.dumps({"type": "screen.unsubscribe", **target}))
        wait_for(lambda: call(daemon.base, "/api/v1/health")[1]["stream"]["screens_watched"] == 0,
                 what="no screen watched once both unsubscribed")
        one.send(json.dumps({"type": "screen.subscribe", **target, "agent": "nobody"}))
        frame = next_screen(one)
        while frame["type"] != "error":  # screen frames sent before the unsubscribe arrived
            frame = next_screen(one)
        assert frame["message"] == f"no agent DEMO-1/nobody in run {daemon.run_id}"


def test_openapi_documents_the_screen_routes_and_frames(daemon: Daemon) -> None:
    spec = call(daemon.base, "/openapi.json")[1]
    screen = spec["paths"]["/api/v1/runs/{run_id}/agents/{ticket}/{agent}/screen"]["get"]
    message = spec["paths"]["/api/v1/runs/{run_id}/agents/{ticket}/{agent}/message"]["post"]
    assert {"200", "400", "401", "403", "404"} <= set(screen["responses"])
    assert {"200", "400", "401", "403", "404", "409", "413"} <= set(message["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["MessageBody"]["properties"]["text"]["maxLength"] == 15_000
    assert set(schemas["Screen"]["required"]) >= {"alive", "text", "html", "width", "height"}
    assert schemas["AgentScreenFrame"]["properties"]["type"]["const"] == "agent.screen"
    assert spec["x-websocket"]["/api/v1/forum/stream"] == {
        "client_messages": [{"$ref": "#/components/schemas/ScreenSubscribe"}],
        "frames": [{"$ref": "#/components/schemas/AgentScreenFrame"}]}


def test_tui_over_the_daemon_reads_the_screen_and_sends_a_message(daemon: Daemon, monkeypatch: Any) -> None:
    """`metawsm tui --server` (its data source, without the terminal UI): the same two routes."""
    from metawsm.cli.tui.remote import RemoteSource

    monkeypatch.setenv("METAWSM_TOKEN", TOKEN)
    source = RemoteSource(daemon.base)
    row = next(r for r in source.board().rows if r.agent == "tty")

    def text() -> str:
        shown = source.screen(row)
        return shown.text if shown is not None else ""

    wait_for(lambda: "done" in text(), what="the screen over the API")
    assert source.message(row, "via the tui") == (f"sent to DEMO-1/tty and posted in "
                                                   f"fctrl-{daemon.run_id}-demo-1-tty")
    wait_for(lambda: "via the tui" in text(), what="the message typed into the session")
