"""Access control: loopback-only without a token; with one, every request needs `Authorization: Bearer
TOKEN` or the session cookie set by `POST /login`, and WebSocket upgrades must come from the same host
(`Origin`). One pure ASGI middleware, so HTTP routes, the UI and the WebSocket share the check."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from metawsm.errors import UsageError
from metawsm.server import agent_auth
from metawsm.server.errors import error_body

COOKIE = "metawsm_session"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login", "/logout", "/favicon.ico"})


def read_token(path: str | Path) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read the token file {path}: {exc.strerror or exc}") from exc
    if len(token) < 8:
        raise UsageError(f"the token in {path} is too short (at least 8 characters)")
    return token


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) only ever means this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addrs = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def session_value(token: str) -> str:
    """The cookie value: an HMAC of the token, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"metawsm-session-v1", hashlib.sha256).hexdigest()


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def authorized(token: str, headers: dict[str, str], query: str = "") -> bool:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), token.encode()):
        return True
    cookie = _cookie(headers, COOKIE)
    if cookie and hmac.compare_digest(cookie.encode(), session_value(token).encode()):
        return True
    given = parse_qs(query).get("token", [""])[0]  # WebSocket clients that cannot set headers
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def same_origin(headers: dict[str, str]) -> bool:
    """No Origin (a non-browser client) or an Origin whose host:port is the Host asked for."""
    origin = headers.get("origin")
    if not origin:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class AuthMiddleware:
    """401 for API calls without the token, a redirect to /login for pages, 403 for WebSocket
    upgrades from another origin (checked with or without a token)."""

    def __init__(self, app: Any, token: str | None, state_db: Any = None) -> None:
        self.app, self.token, self.state_db = app, token, state_db

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path: str = scope.get("path", "")
        headers = _headers(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        is_agent, agent = agent_auth.resolve(self.state_db, headers)
        if is_agent:  # an agent's own token: its own signals and answers only, with or without a daemon token
            if kind == "websocket":
                return await _deny_ws(send, 4403, "an agent token cannot open the stream")
            if agent is None:
                return await _json(send, 401, "unauthorized", "this agent token is unknown or revoked (the run "
                                                              "ended, or the agent was started again)")
            if not agent_auth.allowed(scope.get("method", ""), path):
                return await _json(send, 403, "forbidden", "an agent token may only signal and ask for its own "
                                                           "agent")
            scope[agent_auth.SCOPE_KEY] = agent
            return await self.app(scope, receive, send)
        if kind == "websocket":
            if not same_origin(headers):
                return await _deny_ws(send, 4403, "origin not allowed")
            if self.token and not authorized(self.token, headers, query):
                return await _deny_ws(send, 4401, "unauthorized")
            return await self.app(scope, receive, send)
        if (not self.token or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
                or authorized(self.token, headers)):
            return await self.app(scope, receive, send)
        if path.startswith("/api/") or path.startswith("/openapi") or "text/html" not in headers.get("accept", ""):
            body = orjson.dumps(error_body("unauthorized", "a bearer token is required (Authorization: Bearer …)"))
            return await _send(send, 401, body, [(b"content-type", b"application/json"),
                                                 (b"www-authenticate", b'Bearer realm="metawsm"')])
        target = "/login?next=" + quote(path, safe="/")  # odd bytes in the path never break the header
        return await _send(send, 303, b"", [(b"location", target.encode("ascii"))])


async def _json(send: Any, status: int, code: str, message: str) -> None:
    await _send(send, status, orjson.dumps(error_body(code, message)), [(b"content-type", b"application/json")])


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _deny_ws(send: Any, code: int, reason: str) -> None:
    """Refuse the handshake (ASGI: a close before accept becomes HTTP 403)."""
    await send({"type": "websocket.close", "code": code, "reason": reason})


router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


LOGIN_FAILURES = 5  # wrong tokens allowed per client address and window
LOGIN_WINDOW = 60.0  # seconds


class Throttle:
    """Failed logins per client address in a sliding window; over the limit, logins are refused (429)
    without looking at the token, until the window has passed."""

    def __init__(self, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}

    def retry_after(self, client: str) -> int:
        now = time.monotonic()
        recent = [t for t in self._failures.get(client, []) if now - t < self.window]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return int(self.window - (now - recent[0])) + 1 if len(recent) >= self.limit else 0

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()
        self._failures.setdefault(client, []).append(time.monotonic())


@router.post("/login")
def login(request: Request, token: str = Form("", max_length=4096), next: str = Form("/", max_length=2048),
          csrf_token: str = Form("", max_length=200)) -> Response:
    """The login form posts the token here; a right one sets the HTTP-only session cookie. Wrong
    tokens are throttled per client address (429 with Retry-After)."""
    expected: str | None = request.app.state.token
    if "origin" in request.headers and not (
            getattr(request.state, "csrf_cookie_ok", False)
            and hmac.compare_digest(csrf_token.encode(), str(request.state.csrf_token).encode())):
        return RedirectResponse(f"/login?error=1&next={quote(_safe_next(next), safe='/')}", status_code=303)
    if expected is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    throttle: Throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "?"
    wait = throttle.retry_after(client)
    if wait:
        return Response(f"too many failed logins; try again in {wait} s\n", status_code=429,
                        headers={"Retry-After": str(wait)}, media_type="text/plain")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        throttle.failed(client)
        return RedirectResponse(f"/login?error=1&next={_safe_next(next)}", status_code=303)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, session_value(expected), httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", path="/")
    return resp


@router.post("/logout")
def logout() -> Response:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
