"""`WS /api/v1/forum/stream`: one page of `limit` events after the cursor (as the Go server did;
clients page through `/forum/events` for more), then live events. A bad `cursor` or `limit` is refused
with HTTP 400 and the error shape before the upgrade.

One shared follower (`Hub`) tails the forum log — a `stat` every `poll` seconds, reading only the new
complete lines — and fans each batch out to the subscribers' bounded queues. A subscriber whose queue
is full (a client that stopped reading) is disconnected with close code 1013 instead of slowing the
others. Each connection runs a reader (client pings and closes) beside its sender (frames and
heartbeats)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from metawsm.forum.bounds import MAX_INT
from metawsm.forum.ids import now as stamp
from metawsm.forum.models import Event
from metawsm.forum.service import Forum

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013  # the close code of a client too slow to keep up
GOING_AWAY = 1001
PAGE = 500


@dataclass(eq=False)
class Subscriber:
    ticket: str | None
    run_id: str | None
    queue: asyncio.Queue[list[dict[str, Any]]]
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # set: the connection must end
    dropped: bool = False  # ended for being too slow
    screens: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (run, ticket, agent) -> session

    def wants(self, e: dict[str, Any]) -> bool:
        env = e["envelope"]
        return ((not self.ticket or env.get("ticket") == self.ticket)
                and (not self.run_id or (env.get("run_id") or "").lower() == self.run_id.lower()))


@dataclass
class Hub:
    """The one follower of the forum log, shared by every stream connection."""

    forum: Forum
    poll: float = 0.05
    queue_size: int = 256
    subscribers: set[Subscriber] = field(default_factory=set)
    head: int = 0  # the last sequence seen in the log
    delivered: int = 0
    disconnected_slow: int = 0
    _offset: tuple[int, int] = (0, 0)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False

    async def start(self) -> None:
        self._offset = await asyncio.to_thread(self._log_end)
        self._task = asyncio.create_task(self._follow(), name="forum-follower")

    def _log_end(self) -> tuple[int, int]:
        """(byte offset, line) of the log's end, and the head sequence there."""
        end: tuple[int, int] = (0, 0)
        for events, offset, line in self.forum.log.read(0, 0):
            end = (offset, line)
            if events:
                self.head = events[-1]["sequence"]
        return end

    async def stop(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self.subscribers):
            self._end(sub)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribe(self, ticket: str | None, run_id: str | None) -> Subscriber:
        sub = Subscriber(ticket, run_id, asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.subscribers), "head": self.head, "log_offset": self._offset[0],
                "delivered_batches": self.delivered, "disconnected_slow": self.disconnected_slow}

    @staticmethod
    def _end(sub: Subscriber) -> None:
        """Tell the subscriber's connection to end (even if its sender is stuck in a send)."""
        sub.gone.set()

    async def _follow(self) -> None:
        size_of = self.forum.log.size
        while True:
            try:
                if size_of() > self._offset[0]:
                    batches = await asyncio.to_thread(self._read_new)
                    for batch in batches:
                        self._fan_out(batch)
                elif size_of() < self._offset[0]:  # the log was replaced (restored from a backup)
                    self._offset = (0, 0)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep following: one bad read must not end every stream
                log.exception("forum follower: reading the log failed")
                await asyncio.sleep(1)
            await asyncio.sleep(self.poll)

    def _read_new(self) -> list[list[dict[str, Any]]]:
        out = []
        for events, end, end_line in self.forum.log.read(*self._offset):
            fresh = [Event.from_dict(e).to_json() for e in events if e.get("sequence", 0) > self.head]
            if fresh:
                self.head = fresh[-1]["sequence"]
                out.append(fresh)
            self._offset = (end, end_line)
        return out

    def _fan_out(self, batch: list[dict[str, Any]]) -> None:
        for sub in list(self.subscribers):
            if sub.dropped:
                continue
            mine = [e for e in batch if sub.wants(e)]
            if not mine:
                continue
            try:
                sub.queue.put_nowait(mine)
                self.delivered += 1
            except asyncio.QueueFull:
                sub.dropped = True
                self.disconnected_slow += 1
                self._end(sub)


def _frame(kind: str, cursor: int, events: list[Any] | None = None) -> str:
    data: dict[str, Any] = {"type": kind}
    if events is not None:
        data["events"] = events
    data["next_cursor"] = cursor
    data["sent_at"] = stamp()
    return orjson.dumps(data).decode()


router = APIRouter()


def _int(value: str | None, default: int, name: str, minimum: int) -> int:
    try:
        number = default if value in (None, "") else int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc
    if not minimum <= number <= MAX_INT:
        raise ValueError(f"{name} must be from {minimum} to {MAX_INT}")
    return number


@router.websocket("/api/v1/forum/stream")
async def stream(ws: WebSocket) -> None:
    """Frames: forum.events {events, next_cursor, sent_at}, heartbeat {next_cursor, sent_at},
    pong (answering {"type":"ping"}), agent.screen {run_id, ticket, agent, screen, sent_at} (while the client
    subscribed with {"type":"screen.subscribe", run_id, ticket, agent}; see screens.py), error {message}."""
    app = ws.app
    hub: Hub = app.state.hub
    q = ws.query_params
    ticket, run_id = q.get("ticket") or None, q.get("run_id") or None
    try:
        cursor = _int(q.get("cursor"), 0, "cursor", 0)
        limit = min(_int(q.get("limit"), 100, "limit", 1), 10_000)
    except ValueError as exc:
        from fastapi.responses import JSONResponse

        code = "invalid_cursor" if str(exc).startswith("cursor") else "invalid_limit"
        await ws.send_denial_response(JSONResponse({"error": {"code": code, "message": str(exc)}}, 400))
        return
    await ws.accept()
    sub = hub.subscribe(ticket, run_id)
    app.state.streams.add(ws)
    sender = asyncio.create_task(_send_loop(ws, hub, sub, cursor, limit, app.state.heartbeat))
    reader = asyncio.create_task(_read_loop(ws, sub, app))
    gone = asyncio.create_task(sub.gone.wait())
    try:
        done, _ = await asyncio.wait({sender, reader, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {gone}:
            failure = task.exception()
            if failure and not isinstance(failure, WebSocketDisconnect | OSError | RuntimeError):
                log.warning("stream ended with an error: %r", failure)
    finally:
        hub.unsubscribe(sub)
        for session in sub.screens.values():
            app.state.screens.unsubscribe(session, sub.queue)
        app.state.streams.discard(ws)
        for task in (sender, reader, gone):
            task.cancel()
        await asyncio.gather(sender, reader, gone, return_exceptions=True)
        if sub.dropped:
            await _close(ws, TRY_AGAIN_LATER, "too slow: send queue full")
        elif hub._closing:
            await _close(ws, GOING_AWAY, "server shutting down")
        else:
            await _close(ws, 1000, "")


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code, reason), 2)


async def _send_loop(ws: WebSocket, hub: Hub, sub: Subscriber, cursor: int, limit: int, heartbeat: float) -> None:
    forum = hub.forum
    page, nxt = await asyncio.to_thread(forum.events, cursor, limit, sub.ticket, sub.run_id)
    if page:  # catch up: one page, as the Go server did
        await ws.send_text(_frame("forum.events", nxt, [e.to_json() for e in page]))
        cursor = nxt
    while True:
        try:
            batch = await asyncio.wait_for(sub.queue.get(), heartbeat)
        except TimeoutError:
            await ws.send_text(_frame("heartbeat", cursor))
            continue
        if batch and batch[0].get("type") == "pong":
            await ws.send_text(_frame("pong", cursor))
            continue
        if batch and batch[0].get("type") in ("agent.screen", "error"):
            await ws.send_text(orjson.dumps({**batch[0], "sent_at": stamp()}).decode())
            continue
        fresh = [e for e in batch if e["sequence"] > cursor]
        for i in range(0, len(fresh), limit):
            chunk = fresh[i:i + limit]
            cursor = chunk[-1]["sequence"]
            await ws.send_text(_frame("forum.events", cursor, chunk))


async def _read_loop(ws: WebSocket, sub: Subscriber, app: Any) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None and message.get("bytes") is not None:
            text = message["bytes"].decode("utf-8", "replace")
        try:
            data = orjson.loads(text or "null")
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        if data.get("type") == "ping":
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait([{"type": "pong"}])
        elif data.get("type") in ("screen.subscribe", "screen.unsubscribe"):
            from metawsm.server.api_screens import screen_request

            await screen_request(app, sub, data)


async def close_all(app: Any) -> None:
    """Shutdown: end every stream with a close frame (1001 going away)."""
    hub: Hub = app.state.hub
    hub._closing = True
    for sub in list(hub.subscribers):
        hub._end(sub)
    for _ in range(60):
        if not app.state.streams:
            return
        await asyncio.sleep(0.05)
