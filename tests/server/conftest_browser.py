"""Helpers for the browser tests: `metawsm serve` as a real subprocess on a free loopback port, and
headless Chromium (the system's, driven by Playwright; nothing is downloaded)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:  # web-first assertions wait 5 s by default: too short on a loaded 2-core machine (seen failing there)
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
except ImportError:  # the browser tests skip without Playwright
    pass

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(project: Path, log: Path, *extra: str) -> Iterator[str]:
    """`python -m metawsm -C PROJECT serve --addr 127.0.0.1:PORT [EXTRA…]`; yields the base URL once
    /api/v1/health answers; terminated (by its pid) afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "metawsm", "-C", str(project), "serve",
                                 "--addr", f"127.0.0.1:{port}", *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
        try:
            deadline = time.monotonic() + 60  # a daemon starting on a loaded 2-core machine
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"metawsm serve exited {proc.returncode}:\n{log.read_text()}")
                try:
                    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2):
                        break
                except urllib.error.HTTPError:
                    break  # it answers (401 with a token, 503 while degraded)
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"metawsm serve did not answer:\n{log.read_text()}") from None
                    time.sleep(0.1)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """Headless Chromium (the system's) launched by Playwright, closed afterwards; the test skips when the
    browser or Playwright is missing."""
    import pytest

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield b
        finally:
            b.close()
