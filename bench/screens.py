"""Live agent screens benchmark: prints one JSON object.

    python bench/screens.py [--quick] [--clients N] [--ws]

A real `metawsm serve` on a free loopback port over a fresh demo repository with one agent whose screen changes
ten times a second (a shell loop printing the time). N (10) clients watch that agent's screen on the run page:
by default real headless Chromium pages (/usr/bin/chromium through Playwright; each page also re-reads its
regions every 5 s, as the UI does), with --ws bare WebSocket clients that subscribe to the screen. Measured over
30 s (--quick 10 s) once every client shows the live screen: the daemon's CPU (user + system, /proc) as a
percentage of one core, its
tmux capture clients included (target <= 15 %), the same daemon's CPU with no client for the same time, the screen
captures made and frames sent (health's stream figures), and the screen updates each client saw."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder, also under -P

from _common import PY, emit, precompile
from server import free_port

CHROMIUM = "/usr/bin/chromium"
TICKER = "while true; do date +%s.%N; sleep 0.1; done"


def setup(socket: str) -> tuple[Path, str]:
    """A demo repository (`metawsm init --demo`) whose one agent prints the time ten times a second."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="mw-bench-screens-"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    subprocess.run([PY, "-m", "metawsm", "-C", str(root), "init", "--demo"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    (root / ".metawsm" / "policy.yaml").write_text(f"tmux:\n  socket_name: {socket}\n", encoding="utf-8")
    (root / "plans" / "screens.yaml").write_text(
        "name: screens\ntickets: [DEMO-1]\nagents:\n"
        f"  - {{name: ticker, profile: shell, run: {json.dumps(TICKER)}}}\n", encoding="utf-8")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "bench"], check=True, env=env)
    out = subprocess.run([PY, "-m", "metawsm", "-C", str(root), "apply", "plans/screens.yaml", "--json"],
                         check=True, env=env, capture_output=True, text=True).stdout
    return root, str(json.loads(out)["runs"][0]["run_id"])


def serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "metawsm", "-C", str(root), "serve", "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("serve did not start") from None
            time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and of its waited-for children (the tmux clients that capture screens)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_percent(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return round((cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100, 2)


def stream_stats(url: str) -> dict[str, Any]:
    return json.loads(urllib.request.urlopen(f"{url}/api/v1/health", timeout=10).read())["stream"]  # type: ignore[no-any-return]


def with_browsers(url: str, run_id: str, clients: int, pid: int, seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    count = ("() => { window.__updates = 0; const pre = document.querySelector('pre.screen');"
             " new MutationObserver(() => { window.__updates++; }).observe(pre, {childList: true, subtree: true,"
             " characterData: true}); }")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox",
                                                                     "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 2400})  # the screen is on screen
            pages = []
            for _ in range(clients):
                page = context.new_page()
                page.goto(f"{url}/runs/{run_id}")
                page.wait_for_function("document.querySelector('pre.screen').dataset.state === 'live'",
                                       timeout=30_000)
                page.evaluate(count)
                pages.append(page)
            before = stream_stats(url)
            cpu = cpu_percent(pid, seconds)
            after = stream_stats(url)
            updates = [p.evaluate("window.__updates") for p in pages]
        finally:
            browser.close()
    return {"cpu": cpu, "updates_per_client": updates, "before": before, "after": after}


async def _ws_clients(url: str, run_id: str, clients: int, pid: int, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    ws_url = url.replace("http", "ws") + f"/api/v1/forum/stream?run_id={run_id}"
    sockets = [await connect(ws_url, max_size=None) for _ in range(clients)]
    counts = [0] * clients

    async def reader(i: int, ws: Any) -> None:
        async for raw in ws:
            if json.loads(raw).get("type") == "agent.screen":
                counts[i] += 1

    tasks = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
    for ws in sockets:
        await ws.send(json.dumps({"type": "screen.subscribe", "run_id": run_id, "ticket": "DEMO-1",
                                  "agent": "ticker"}))
    while min(counts) == 0:
        await asyncio.sleep(0.05)
    counts[:] = [0] * clients
    before = stream_stats(url)
    cpu = await asyncio.to_thread(cpu_percent, pid, seconds)
    after = stream_stats(url)
    updates = list(counts)
    for ws in sockets:
        await ws.close()
    for t in tasks:
        t.cancel()
    return {"cpu": cpu, "updates_per_client": updates, "before": before, "after": after}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10 s of measurement instead of 30 s")
    ap.add_argument("--clients", type=int, default=10, help="clients watching the screen (default 10)")
    ap.add_argument("--ws", action="store_true", help="bare WebSocket clients instead of Chromium pages")
    a = ap.parse_args()
    precompile()
    seconds = 10 if a.quick else 30
    socket = f"mw-bench-screens-{os.getpid()}"
    browsers = not a.ws and Path(CHROMIUM).exists()
    proc = None
    try:
        root, run_id = setup(socket)
        proc, url = serve(root)
        time.sleep(1)
        idle = cpu_percent(proc.pid, seconds)
        if browsers:
            watched = with_browsers(url, run_id, a.clients, proc.pid, seconds)
        else:
            watched = asyncio.run(_ws_clients(url, run_id, a.clients, proc.pid, seconds))
        b, f = watched["before"], watched["after"]
        figures: dict[str, Any] = {
            "clients": a.clients, "client_kind": "chromium pages (run page)" if browsers else "websocket",
            "seconds": seconds,
            "daemon_cpu_watching": {"percent_of_one_core": watched["cpu"], "target_percent": 15},
            "daemon_cpu_no_clients": {"percent_of_one_core": idle},
            "screen_captures_per_second": round((f["screen_captures"] - b["screen_captures"]) / seconds, 2),
            "screen_frames_per_second": round((f["screen_frames"] - b["screen_frames"]) / seconds, 2),
            "screen_updates_per_client": watched["updates_per_client"],
        }
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    figures["command"] = "python bench/screens.py" + (" --quick" if a.quick else "") + (" --ws" if a.ws else "")
    emit("screens", figures)


if __name__ == "__main__":
    main()
