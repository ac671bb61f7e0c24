"""Live agent screens for the web UI: one capture loop per watched session, shared by every client watching it.

A WebSocket client subscribes to an agent's screen (`{"type": "screen.subscribe", run_id, ticket, agent}` on
the forum stream) while the screen is visible on its page, and unsubscribes when it is not. While a session has
at least one subscriber its screen is captured through the Runtime every `interval` seconds (the throttle: ten
clients watching one screen cost one capture), and an `agent.screen` frame goes to each subscriber when the
screen changed. No subscriber, no capture.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metawsm.forum.ids import now as stamp
from metawsm.server.ansi_html import plain, to_html

log = logging.getLogger(__name__)

INTERVAL = 0.5  # seconds between captures of a watched screen
GONE_INTERVAL = 2.0  # while the session is not running
MAX_SUBSCRIPTIONS = 16  # screens one connection may watch at once


def screen_json(screen: Any | None, *, captured_at: str | None = None) -> dict[str, Any]:
    """A captured Screen (None: no running session) as the API and the stream give it."""
    if screen is None:
        return {"alive": False, "text": "", "html": "", "width": 0, "height": 0, "cursor_x": 0, "cursor_y": 0,
                "captured_at": captured_at or stamp()}
    return {"alive": True, "text": plain(screen.text), "html": to_html(screen.text), "width": screen.width,
            "height": screen.height, "cursor_x": screen.cursor_x, "cursor_y": screen.cursor_y,
            "captured_at": captured_at or stamp()}


@dataclass(frozen=True)
class Target:
    run_id: str
    ticket: str
    agent: str
    session: str


@dataclass(eq=False)
class _Watch:
    target: Target
    queues: set[asyncio.Queue[list[dict[str, Any]]]] = field(default_factory=set)
    digest: str = ""
    frame: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None


class ScreenHub:
    """The capture loops. `capture(session)` returns a Screen or None (runs in a worker thread)."""

    def __init__(self, capture: Callable[[str], Any], *, interval: float = INTERVAL) -> None:
        self.capture, self.interval = capture, interval
        self.watches: dict[str, _Watch] = {}
        self.captures = 0
        self.frames = 0

    def stats(self) -> dict[str, int]:
        return {"screens_watched": len(self.watches), "screen_subscribers": sum(len(w.queues) for w in
                                                                                 self.watches.values()),
                "screen_captures": self.captures, "screen_frames": self.frames}

    def subscribe(self, target: Target, queue: asyncio.Queue[list[dict[str, Any]]]) -> None:
        watch = self.watches.get(target.session)
        if watch is None:
            watch = self.watches[target.session] = _Watch(target)
        watch.queues.add(queue)
        if watch.frame is not None:  # the screen as last captured, at once
            _put(queue, {**watch.frame, "run_id": target.run_id, "ticket": target.ticket, "agent": target.agent})
        if watch.task is None or watch.task.done():
            watch.task = asyncio.create_task(self._loop(watch), name=f"screen-{target.session}")

    def unsubscribe(self, session: str, queue: asyncio.Queue[list[dict[str, Any]]]) -> None:
        watch = self.watches.get(session)
        if watch is None:
            return
        watch.queues.discard(queue)
        if not watch.queues:
            self.watches.pop(session, None)
            if watch.task is not None:
                watch.task.cancel()

    async def stop(self) -> None:
        tasks = [w.task for w in self.watches.values() if w.task is not None]
        self.watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self, watch: _Watch) -> None:
        t = watch.target
        while watch.queues:
            try:
                screen = await asyncio.to_thread(self.capture, t.session)
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed capture must not end the loop
                log.exception("capturing the screen of %s failed", t.session)
                screen = None
            self.captures += 1
            body = screen_json(screen)
            digest = hashlib.sha256(f"{body['alive']}|{screen.text if screen else ''}|{body['width']}x"
                                    f"{body['height']}|{body['cursor_x']},{body['cursor_y']}".encode()).hexdigest()
            if digest != watch.digest:
                watch.digest = digest
                watch.frame = {"type": "agent.screen", "screen": body}
                for queue in list(watch.queues):
                    self.frames += 1
                    _put(queue, {**watch.frame, "run_id": t.run_id, "ticket": t.ticket, "agent": t.agent})
            await asyncio.sleep(self.interval if screen is not None else GONE_INTERVAL)


def _put(queue: asyncio.Queue[list[dict[str, Any]]], frame: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a client that stopped reading misses a frame, not the next
        queue.put_nowait([frame])
