"""Size limits applied before anything is parsed: a request body larger than the limit is refused with
413 from its `Content-Length` (or as soon as a chunked body passes it), without reading the rest; a
WebSocket message larger than its limit closes the connection with 1009 (message too big)."""

from __future__ import annotations

from typing import Any

import orjson

from metawsm.server.errors import error_body

MIN_BODY_BYTES = 1 << 20  # the JSON of a post may escape every byte (\u0000): allow room over max_body_bytes
WS_MESSAGE_BYTES = 64 << 10  # clients only send small control messages (ping, cursor)


def body_limit(max_body_bytes: int) -> int:
    """The request body limit for a forum post limit of `max_body_bytes`."""
    return max(MIN_BODY_BYTES, 8 * max_body_bytes)


class LimitMiddleware:
    def __init__(self, app: Any, max_body: int, max_ws_message: int = WS_MESSAGE_BYTES) -> None:
        self.app, self.max_body, self.max_ws = app, max_body, max_ws_message

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            return await self.app(scope, self._ws_receive(receive, send), send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return await _reply(send, 400, "invalid_input", "Content-Length is not a number")
                if length > self.max_body:
                    return await self._too_large(send)
        seen = 0
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:  # answer now; the app sees a client that went away
                    refused = True
                    await self._too_large(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded_send)

    async def _too_large(self, send: Any) -> None:
        await _reply(send, 413, "too_large", f"the request body is larger than {self.max_body} bytes")

    def _ws_receive(self, receive: Any, send: Any) -> Any:
        limit = self.max_ws

        async def bounded() -> Any:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes") or message.get("text") or ""
                if len(data) > limit:
                    await send({"type": "websocket.close", "code": 1009,
                                "reason": f"message larger than {limit} bytes"})
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return bounded


async def _reply(send: Any, status: int, code: str, message: str) -> None:
    body = orjson.dumps(error_body(code, message))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
