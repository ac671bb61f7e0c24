"""Browser safety, one pure ASGI middleware in front of auth:

- **Host** (DNS rebinding): the `Host` header must name the daemon — a loopback name (localhost,
  127.0.0.1, ::1), the address it listens on, or a name in `server.allowed_hosts` — for HTTP and
  WebSocket alike; anything else is 403 (WebSocket: close 4403) before any route runs.
- **CSRF**: a state-changing request (POST, PUT, PATCH, DELETE) that comes from a browser (it carries
  an Origin, a Referer or Sec-Fetch-*: every current browser sends Origin on a POST) must be
  same-origin by `Origin` (or `Referer`); a form-like one (any body but `application/json`, which
  no page can send across origins without a CORS preflight this daemon never grants — so the Go
  metawsm's web client keeps working) must also carry the CSRF token of its session in
  `X-CSRF-Token` (our UI's script always sends it, and a token sent is always checked; `/login`'s
  form sends `csrf_token`, checked by the login route). The token is an HMAC of the per-browser
  `metawsm_csrf` cookie (HttpOnly, SameSite=Strict) under a per-daemon secret, so another page — on
  another port of 127.0.0.1 too — can neither read nor forge it. Requests with `Authorization`
  (scripts, the CLI) or without any browser header (curl, `--server`) are not browser requests.
- A path or header that is not valid text never reaches a route as a 500: it is 400.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

import orjson

from metawsm.server.errors import error_body

CSRF_COOKIE = "metawsm_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BROWSER_HEADERS = ("origin", "referer", "sec-fetch-site", "sec-fetch-mode")  # browsers always send them


def host_name(host_header: str) -> str:
    """`Host` without its port, lower-cased; IPv6 keeps its brackets stripped."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class BrowserGuard:
    def __init__(self, app: Any, *, allowed_hosts: frozenset[str] | None, secret: bytes | None = None,
                 checks: bool = True) -> None:
        """`allowed_hosts` None: any Host (a daemon on every interface without a configured list)."""
        self.app, self.allowed, self.checks = app, allowed_hosts, checks
        self.secret = secret or secrets.token_bytes(32)

    def token_for(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode(), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.token_for(cookie or "").encode(),
                                                              (token or "").encode())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            scope["path"].encode("utf-8")
        except (UnicodeError, AttributeError):
            return await _refuse(kind, send, 400, "invalid_input", "the request path or a header is not valid text")
        if self.checks and self.allowed is not None and host_name(headers.get("host", "")) not in self.allowed:
            return await _refuse(kind, send, 403, "forbidden_host",
                                 f"Host {headers.get('host', '')[:100]!r} is not a name this daemon serves "
                                 "(server.allowed_hosts)")
        cookie = _cookie(headers, CSRF_COOKIE)
        fresh = None
        if not cookie or len(cookie) > 100:
            cookie = fresh = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_token"] = self.token_for(cookie)
        scope["state"]["csrf_cookie_ok"] = fresh is None
        if kind == "http" and self.checks and scope.get("method") in UNSAFE_METHODS:
            why = self._csrf_problem(scope, headers, fresh is None)
            if why:
                return await _refuse(kind, send, 403, "csrf", why)
        if kind == "http" and fresh:
            send = _with_cookie(send, fresh, scope.get("scheme") == "https")
        return await self.app(scope, receive, send)

    def _csrf_problem(self, scope: dict[str, Any], headers: dict[str, str], have_cookie: bool) -> str | None:
        if "authorization" in headers or not any(h in headers for h in _BROWSER_HEADERS):
            return None  # a script or the CLI: not a browser, nothing to forge with
        host = headers.get("host", "").lower()
        origin = headers.get("origin")
        if origin is not None:
            if origin == "null" or urlsplit(origin).netloc.lower() != host:
                return f"cross-origin request refused (Origin {origin[:100]!r} is not http://{host[:100]})"
        else:
            referer = headers.get("referer")
            if not referer or urlsplit(referer).netloc.lower() != host:
                return "a browser request needs a same-origin Origin or Referer header"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return f"cross-site request refused (Sec-Fetch-Site: {headers['sec-fetch-site'][:40]})"
        if scope.get("path") == "/login":
            return None  # the login form's csrf_token field is checked by the login route
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json" and headers.get(CSRF_HEADER) is None:
            return None  # JSON cannot cross origins without a CORS preflight this daemon never grants
        if not have_cookie or not self.valid(_cookie(headers, CSRF_COOKIE), headers.get(CSRF_HEADER)):
            return "missing or wrong CSRF token (reload the page and try again)"
        return None


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _with_cookie(send: Any, value: str, secure: bool) -> Any:
    cookie = f"{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
        await send(message)

    return sending


async def _refuse(kind: str, send: Any, status: int, code: str, message: str) -> None:
    if kind == "websocket":
        await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    body = orjson.dumps(error_body(code, message))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def allowed_hosts(listen_host: str | None, configured: tuple[str, ...]) -> frozenset[str] | None:
    """The Host names to accept: loopback names, the listen address (unless it is every interface)
    and the configured ones; None (any) for `*`, or for every interface with nothing configured."""
    names = {h.strip().lower().strip("[]") for h in configured}
    if "*" in names:
        return None
    wildcard = listen_host in ("0.0.0.0", "::", "")
    if wildcard and not names:
        return None
    if listen_host and not wildcard:
        names.add(listen_host.lower().strip("[]"))
    return frozenset(LOOPBACK_NAMES | names)
