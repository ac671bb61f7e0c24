"""The API's one error shape, `{"error": {"code", "message"}}`, and the status code of each error.

MetawsmError subclasses keep their own `code` (not_found, illegal_transition, usage, …); the status
follows the kind: 400 invalid input, 404 unknown, 409 illegal transition or refused action."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from metawsm.errors import (
    ConfigError,
    ExternalError,
    ForumError,
    GateRefused,
    MetawsmError,
    NotFoundError,
    StateError,
    UsageError,
    WaitTimeout,
)

log = logging.getLogger(__name__)

HTTP_CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large"}

# (class, status) in order: the first match wins, so subclasses come before their bases.
STATUS_OF: tuple[tuple[type[MetawsmError], int], ...] = (
    (NotFoundError, 404),
    (StateError, 409),
    (GateRefused, 409),
    (ConfigError, 400),
    (UsageError, 400),
    (ForumError, 400),
    (WaitTimeout, 504),
    (ExternalError, 502),
    (MetawsmError, 409),  # e.g. "run R is complete; it cannot be stopped"
)


class ApiError(Exception):
    """An error raised by the server itself (not by the core): status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if hint:
        err["hint"] = hint
    return {"error": err}


def error_response(status: int, code: str, message: str, hint: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, hint), status_code=status, headers=headers)


def status_of(exc: MetawsmError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        given = err.get("input")
        shown = f" (got {str(given)[:60]!r})" if isinstance(given, (str, int, float)) else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "invalid request"


def _validation_code(exc: RequestValidationError) -> str:
    """invalid_limit / invalid_cursor for those query parameters (their codes before the contract
    carried the bounds), else invalid_input."""
    errs = exc.errors()
    loc: tuple[Any, ...] = tuple(errs[0].get("loc", ())) if errs else ()
    if (len(loc) == 2 and loc[0] == "query" and loc[1] in ("limit", "cursor")
            and errs[0].get("type") in ("greater_than_equal", "less_than_equal")):
        return f"invalid_{loc[1]}"
    return "invalid_input"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the one shape."""

    @app.exception_handler(MetawsmError)
    async def _metawsm(request: Request, exc: MetawsmError) -> JSONResponse:
        return error_response(status_of(exc), exc.code, exc.message, exc.hint)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, _validation_code(exc), _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            from metawsm.server.contract import allowed_methods

            allow = allowed_methods(request.app, request.url.path)  # every route of the path, not the first
            message = f"{request.method} is not allowed on {request.url.path} (allowed: {', '.join(allow)})"
            headers = {**(headers or {}), "Allow": ", ".join(allow)}
        return error_response(exc.status_code, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", f"internal error: {type(exc).__name__}: {exc}")
