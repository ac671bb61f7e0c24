"""Daemon benchmark: prints one JSON object.

    python bench/server.py [--quick]

Against a real `metawsm serve` process on a free loopback port (a fresh demo repository):
idle CPU of the daemon (60 s; --quick 10 s; target <= 2 % of one core), append -> WebSocket frame
latency with 20 clients connected (p50, p99; target p99 <= 100 ms), `GET /api/v1/forum/threads` with
10,000 threads (median; target <= 20 ms), the daemon's RSS while 10,000 and then 10,000 more
events are streamed to a client (no growth), and the cost of the browser checks (Host, CSRF): the same
list call and a form POST with CSRF verification (`POST /login` with Origin, cookie and csrf_token),
timed alternately against two daemons on the same repository, one with the checks and one without
(`create_app(browser_checks=False)`, a test-only setting; target: within 10 %)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import PY, emit, precompile
from metawsm.forum import Forum, threads

CLIENTS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_repo() -> Path:
    root = Path(tempfile.mkdtemp(prefix="mw-bench-server-"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    subprocess.run([PY, "-m", "metawsm", "-C", str(root), "init"], check=True, env=env, stdout=subprocess.DEVNULL)
    return root


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def start(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "metawsm", "-C", str(root), "serve", "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: {proc.stderr.read() if proc.stderr else ''}") from None
            time.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


async def latency(url: str, forum: Forum, appends: int) -> dict[str, object]:
    """20 clients; each append's time is taken just before the write; each frame's on arrival."""
    from websockets.asyncio.client import connect

    head = json.loads(urllib.request.urlopen(f"{url}/api/v1/health").read())["forum"]["head_sequence"]
    ws_url = url.replace("http", "ws") + f"/api/v1/forum/stream?cursor={head}"
    clients = [await connect(ws_url, max_size=None) for _ in range(CLIENTS)]
    arrivals: dict[int, list[float]] = {}

    async def reader(ws: object) -> None:
        async for raw in ws:  # type: ignore[attr-defined]
            now = time.perf_counter()
            frame = json.loads(raw)
            for e in frame.get("events", ()):
                arrivals.setdefault(e["sequence"], []).append(now)

    tasks = [asyncio.create_task(reader(ws)) for ws in clients]
    tid = forum.open_thread("BENCH", "latency", "start", actor_type="human", actor_name="bench").thread_id
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}
    for i in range(appends):
        t0 = time.perf_counter()
        seq = (await asyncio.to_thread(forum.post, tid, f"message {i}", actor_type="human",
                                       actor_name="bench")).last_event_sequence
        sent[seq] = t0
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(len(arrivals.get(s, ())) < CLIENTS for s in sent):
        await asyncio.sleep(0.05)
    samples = [t - sent[s] for s, times in arrivals.items() if s in sent for t in times]
    missing = sum(CLIENTS - len(arrivals.get(s, ())) for s in sent)
    for ws in clients:
        await ws.close()
    for t in tasks:
        t.cancel()
    return {"clients": CLIENTS, "appends": appends, "frames": len(samples), "missing": missing,
            "p50_ms": pct(samples, 50), "p99_ms": pct(samples, 99), "max_ms": pct(samples, 100),
            "target_p99_ms": 100}


def list_threads(url: str, forum: Forum, n: int, runs: int) -> dict[str, object]:
    have = len(forum.list_threads(ticket="BULK", limit=n))
    envs = []
    for i in range(have, n):
        t = {"thread_id": f"fthr-bulk-{i:06d}", "ticket": "BULK", "run_id": None, "agent_name": None}
        envs.append(threads.envelope("forum.thread.opened", t, {"title": f"thread {i}", "body": "body",
                                                                 "priority": "normal"},
                                     actor_type="human", actor_name="bench"))
    for i in range(0, len(envs), 1000):
        forum.append_batch(envs[i:i + 1000])
    import http.client

    conn = http.client.HTTPConnection(url.split("//")[1])
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        conn.request("GET", "/api/v1/forum/threads")
        body = conn.getresponse().read()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    assert len(json.loads(body)["threads"]) == 50
    return {"threads": n, "limit": 50, "runs": runs, "median_ms": round(statistics.median(times) * 1000, 2),
            "p90_ms": pct(times, 90), "target_median_ms": 20}


DAEMON = """
import sys, uvicorn
from pathlib import Path
from metawsm.config.loader import load_policy
from metawsm.config.project import Project
from metawsm.server.app import create_app
proj = Project(Path(sys.argv[1]))
app = create_app(proj, load_policy(proj), worker=False, browser_checks=sys.argv[3] == "1")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _daemon(root: Path, checks: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([PY, "-c", DAEMON, str(root), str(port), "1" if checks else "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://{url}/api/v1/health", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench daemon did not start") from None
            time.sleep(0.1)


def checks_cost(root: Path, runs: int) -> dict[str, object]:
    """GET /api/v1/forum/threads (10,000 threads) and a CSRF-verified form POST, checks on vs off."""
    import http.client
    import re
    from urllib.parse import urlencode

    daemons = {name: _daemon(root, name == "on") for name in ("on", "off")}
    try:
        conns, heads = {}, {}
        for name, (_, url) in daemons.items():
            conn = http.client.HTTPConnection(url)
            conn.request("GET", "/forum", headers={"Accept": "text/html"})
            resp = conn.getresponse()
            page = resp.read().decode()
            cookie = resp.getheader("set-cookie", "").split(";")[0]
            token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
            assert cookie and token, "no CSRF cookie or token on the page"
            conns[name] = conn
            heads[name] = ({"Cookie": cookie}, {"Cookie": cookie, "Origin": f"http://{url}",
                                                "Content-Type": "application/x-www-form-urlencoded"},
                           urlencode({"token": "", "next": "/forum", "csrf_token": token.group(1)}))
        times: dict[str, dict[str, list[float]]] = {n: {"list": [], "form": []} for n in daemons}
        for i in range(runs + 3):
            for name, conn in conns.items():
                get_headers, post_headers, form = heads[name]
                t0 = time.perf_counter()
                conn.request("GET", "/api/v1/forum/threads", headers=get_headers)
                r = conn.getresponse()
                r.read()
                t1 = time.perf_counter()
                conn.request("POST", "/login", body=form, headers=post_headers)
                p = conn.getresponse()
                p.read()
                t2 = time.perf_counter()
                assert r.status == 200 and p.status == 303, (r.status, p.status)
                if i >= 3:
                    times[name]["list"].append(t1 - t0)
                    times[name]["form"].append(t2 - t1)
        out: dict[str, object] = {"runs": runs, "target_ratio": 1.10}
        for kind in ("list", "form"):
            on, off = statistics.median(times["on"][kind]), statistics.median(times["off"][kind])
            out[kind] = {"median_ms_checks_on": round(on * 1000, 3), "median_ms_checks_off": round(off * 1000, 3),
                         "ratio": round(on / off, 3)}
        return out
    finally:
        for proc, _ in daemons.values():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def rss(url: str, forum: Forum, pid: int, rounds: int, per_round: int) -> dict[str, object]:
    from websockets.asyncio.client import connect

    head = json.loads(urllib.request.urlopen(f"{url}/api/v1/health").read())["forum"]["head_sequence"]
    ws = await connect(url.replace("http", "ws") + f"/api/v1/forum/stream?cursor={head}", max_size=None)
    got = 0

    async def reader() -> None:
        nonlocal got
        async for raw in ws:
            got += len(json.loads(raw).get("events", ()))

    task = asyncio.create_task(reader())
    tid = forum.open_thread("RSS", "rss", "start", actor_type="human", actor_name="bench").thread_id
    figures = {"rss_mb_start": rss_mb(pid)}
    target = 1
    for r in range(rounds):
        for i in range(0, per_round, 500):
            t = {"thread_id": tid, "ticket": "RSS", "run_id": None, "agent_name": None}
            await asyncio.to_thread(forum.append_batch, [
                threads.envelope("forum.post.added", t, {"body": f"event {r}-{i + j} " + "x" * 200},
                                 actor_type="human", actor_name="bench") for j in range(500)])
            await asyncio.sleep(0.05)
        target += per_round
        deadline = time.monotonic() + 30
        while got < target and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        figures[f"rss_mb_after_{(r + 1) * per_round}"] = rss_mb(pid)
    figures["streamed"] = got
    await ws.close()
    task.cancel()
    first, last = figures[f"rss_mb_after_{per_round}"], figures[f"rss_mb_after_{rounds * per_round}"]
    figures["growth_mb_after_first_round"] = round(last - first, 1)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10 s of idle CPU instead of 60 s")
    a = ap.parse_args()
    precompile()
    root = make_repo()
    proc, url = start(root)
    forum = Forum(root / ".metawsm" / "state" / "forum", fsync="batch")
    try:
        idle_s = 10 if a.quick else 60
        time.sleep(1)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle_s)
        idle = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
        figures: dict[str, object] = {
            "idle_cpu": {"seconds": idle_s, "percent_of_one_core": round(idle, 2), "target_percent": 2},
            "latency": asyncio.run(latency(url, forum, 100 if a.quick else 300)),
            "list_threads": list_threads(url, forum, 10_000, 30 if a.quick else 100),
            "browser_checks_cost": checks_cost(root, 30 if a.quick else 200),
            "rss": asyncio.run(rss(url, forum, proc.pid, 2, 10_000)),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            figures_exit = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            figures_exit = -9
        forum.shutdown()
    figures["clean_exit_code"] = figures_exit
    figures["command"] = "python bench/server.py" + (" --quick" if a.quick else "")
    emit("server", figures)


if __name__ == "__main__":
    main()
