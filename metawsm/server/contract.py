"""The exact API contract: annotated types carrying every constraint the server enforces (so the
OpenAPI document states them and FastAPI refuses what breaks them with our 400), and the post-processing
of `/openapi.json`: the real error responses (400, 401, 403, 404, 409, 413) instead of FastAPI's 422,
and an `Allow` header listing every method a path answers (405 and OPTIONS).

Patterns are written so that ECMA-262 (the OpenAPI reader), Python `re` and pydantic's Rust engine read
them the same way: explicit character classes, no `\\s`, no lookaround, anchored with `^…$` around
classes that exclude newlines."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from fastapi import FastAPI, Query
from pydantic import BeforeValidator, Field, WithJsonSchema

from metawsm.forum.bounds import BLANK_CHARS, CONTROL_CHARS, MAX_LIMIT, MAX_NAME

# Characters a name may not hold (control characters), and "blank" characters (Python's str.isspace and
# ECMA's \s together): a required text must hold at least one character that is neither.
CONTROL, BLANK = CONTROL_CHARS, BLANK_CHARS
NAME_PATTERN = f"^[^{CONTROL}]*[^{CONTROL}{BLANK}][^{CONTROL}]*$"
OPTIONAL_NAME_PATTERN = f"^([^{CONTROL}]*[^{CONTROL}{BLANK}][^{CONTROL}]*)?$"
TEXT_PATTERN = f"^[^\\x00]*[^\\x00{BLANK}][^\\x00]*$"  # bodies: newlines allowed, NUL never
MAX_TEXT = 16_384  # characters: at 4 bytes each, within forum.max_body_bytes' default of 65,536 bytes
THREAD_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"

_NO_CONTROL = {"not": {"pattern": f"[{CONTROL}]"}}  # also for readers whose `$` matches before a final \n
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN, json_schema_extra=_NO_CONTROL)]
OptionalName = Annotated[str, Field(max_length=MAX_NAME, pattern=OPTIONAL_NAME_PATTERN,
                                    json_schema_extra=_NO_CONTROL)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=TEXT_PATTERN)]
FreeText = Annotated[str, Field(max_length=MAX_TEXT, pattern="^[^\\x00]*$")]
MessageText = Annotated[str, Field(min_length=1, max_length=15_000, pattern=TEXT_PATTERN)]  # <= 60,000 bytes
ThreadId = Annotated[str, Field(pattern=THREAD_ID_PATTERN, max_length=200)]
ActorType = Literal["agent", "operator", "human", "system"]
ViewerType = Literal["human", "agent", "operator"]
State = Literal["new", "triaged", "waiting_operator", "waiting_human", "answered", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]
# 2^53-1 (JavaScript's largest safe integer): readers that compare JSON numbers in floating point agree
# with the server on the bound; the log itself holds up to 2^63-1
API_MAX_INT = (1 << 53) - 1


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 3 and 3.0, never true, "3" or 3.5."""
    if type(value) is bool or isinstance(value, str):
        raise ValueError("must be an integer")
    if type(value) is float:
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


Sequence = Annotated[int, BeforeValidator(_json_integer), Ge(0), Le(API_MAX_INT),
                     WithJsonSchema({"type": "integer", "minimum": 0, "maximum": API_MAX_INT})]

# query parameters
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most N items (1..{MAX_LIMIT})")]
Cursor = Annotated[int, Query(ge=0, le=API_MAX_INT, description="a sequence number (0..2^53-1)")]
QState = Annotated[Literal["", "new", "triaged", "waiting_operator", "waiting_human", "answered", "closed"] | None,
                   Query(description="only this state (empty: any)")]
QPriority = Annotated[Literal["", "urgent", "high", "normal", "low"] | None,
                      Query(description="only this priority (empty: any)")]
QViewerType = Annotated[Literal["", "human", "agent", "operator"] | None,
                        Query(description="the viewer's kind (default human when viewer_id is given)")]
QText = Annotated[str | None, Query(max_length=MAX_NAME, description="a filter (empty: none)")]
QName = Annotated[str | None, Query(max_length=MAX_NAME, pattern=OPTIONAL_NAME_PATTERN,
                                    description="a name (empty: none)")]
QRequiredName = Annotated[str, Query(min_length=1, max_length=2 * MAX_NAME + 1, pattern=NAME_PATTERN,
                                      description="a name (required)")]
QSearch = Annotated[str, Query(max_length=1000, description="words to find (empty: every thread)")]

ERROR_STATUSES = {
    400: "invalid input: a value out of range, of the wrong type or not allowed (`error.code` says which)",
    401: "a bearer token is required (daemons started with a token)",
    403: "refused: a Host this daemon does not serve, a cross-origin browser request (CSRF), or an action "
         "reserved to metawsm",
    404: "no such route, thread, run or ticket",
    409: "the request conflicts with the current state (illegal transition, closed thread, refused action)",
    413: "the request body is larger than the limit",
}


def fix_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` state the responses the server really sends."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                wanted = [400, 401, 403]
                if "{" in path:
                    wanted.append(404)
                if method in ("post", "put", "patch", "delete"):
                    wanted += [409, 413]
                for status in wanted:
                    responses.setdefault(str(status), {
                        "description": ERROR_STATUSES[status],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}})
        comps = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            comps.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers at `path` (GET implies HEAD): a method is allowed when a route
    matches the path and that method fully."""
    from starlette.routing import Match

    methods: set[str] = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        if any(route.matches(scope)[0] == Match.FULL for route in app.router.routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def control_payload_schema() -> dict[str, Any]:
    """schemas/control.json as the API accepts it: `attempt` may be left out (the agent's current
    attempt is used, as for Go metawsm clients), texts are bounded like forum bodies and hold no NUL."""
    import copy

    from metawsm.config.schemas import load_schema

    schema = copy.deepcopy(load_schema("control"))
    for key in ("$schema", "$id", "title"):
        schema.pop(key, None)
    schema["required"] = [r for r in schema["required"] if r != "attempt"]
    for name, prop in schema["properties"].items():
        if prop.get("type") == "string" and name != "sha":
            prop.setdefault("maxLength", MAX_TEXT)
            prop.setdefault("not", {"pattern": "\\x00"})
    return schema
