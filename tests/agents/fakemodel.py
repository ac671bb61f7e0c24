"""A scripted model endpoint on 127.0.0.1 for the real Claude Code and Codex CLIs.

It speaks just enough of the Anthropic Messages API (``POST /v1/messages``, streaming SSE with text and
``tool_use`` blocks) and of the OpenAI Responses API (``POST /v1/responses``, streaming, ``function_call``
items) for a list of scripted turns to drive a real CLI: each turn is a shell command the "model" runs, an
MCP tool it calls, or its final message. The turn to play is the number of tool results already in the
conversation, so a retried request replays the same turn. Side requests the CLIs make on their own (titles,
summaries: no shell tool offered) get a short plain reply. Every request is logged for the test to read.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHELL_TOOLS = ("Bash", "shell", "shell_command", "exec_command", "local_shell")
WAIT_MCP = "WaitForMcpServers"
_RUNNING = re.compile(r"Process running with session ID (\d+)")


@dataclass(frozen=True)
class Turn:
    """One model turn: run ``bash`` in the CLI's shell tool, call MCP ``tool`` with ``args``, or say ``text``."""

    bash: str | None = None
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


def bash(command: str) -> Turn:
    return Turn(bash=command)


def tool(name: str, **args: Any) -> Turn:
    return Turn(tool=name, args=args)


def say(text: str) -> Turn:
    return Turn(text=text)


@dataclass
class Logged:
    api: str  # "anthropic" | "openai"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    turn: int | None  # the scripted turn answered, None for a side request


class FakeModel:
    """``with FakeModel([bash("git commit …"), say("done")]) as model: … model.base_url …``"""

    def __init__(self, turns: list[Turn], *, api_key: str = "sk-test-metawsm-0123456789abcdefghij",
                 reject_all: bool = False, when: dict[str, list[Turn]] | None = None) -> None:
        self.turns = list(turns)
        self.when = dict(when or {})
        self.namespaces: list[dict[str, Any]] = []
        self.side_reply = "ok"  # the text of a request that offers no shell tool (titles, an adviser's prompt)
        # the usage every model reply reports (Anthropic: cache apart from input; OpenAI: cached inside input)
        self.tokens = {"input": 100, "output": 20, "cache_read": 0, "cache_write": 0, "reasoning": 0}
        self.delay = 0.0  # seconds to wait before answering any model request  # a conversation containing this text plays these turns instead
        self.api_key = api_key
        self.reject_all = reject_all
        self.requests: list[Logged] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> FakeModel:
        handler = type("Handler", (_Handler,), {"model": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakemodel", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what the tests read ----------------------------------------------------------------------------
    def main_requests(self) -> list[Logged]:
        with self._lock:
            return [r for r in self.requests if r.turn is not None]

    def turns_served(self) -> set[int]:
        return {r.turn for r in self.main_requests() if r.turn is not None}

    def wait_turn(self, turn: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if turn in self.turns_served():
                return
            time.sleep(0.1)
        raise AssertionError(f"the CLI never asked for turn {turn}; requests: {self.summary()}")

    def summary(self) -> list[str]:
        with self._lock:
            return [f"{r.api} {r.path} turn={r.turn}" for r in self.requests]

    def tool_results(self) -> list[str]:
        """The text of every tool result in the last main request (what the CLI ran and saw)."""
        main = self.main_requests()
        if not main:
            return []
        return [text for text in _results(main[-1])]

    def script(self, body: dict[str, Any]) -> list[Turn]:
        text = json.dumps(body.get("messages") or body.get("input") or [])
        for needle, turns in self.when.items():
            if needle in text:
                return turns
        return self.turns

    def _log(self, entry: Logged) -> None:
        with self._lock:
            self.requests.append(entry)


def _waited(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(b.get("type") == "tool_use" and b.get("name") == WAIT_MCP
                                             for b in content if isinstance(b, dict))


def _results(req: Logged) -> list[str]:
    out: list[str] = []
    if req.api == "anthropic":
        for msg in req.body.get("messages", []):
            content = msg.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if block.get("type") == "tool_result":
                    inner = block.get("content")
                    if isinstance(inner, list):
                        out.append("".join(str(b.get("text", "")) for b in inner))
                    else:
                        out.append(str(inner))
    else:
        for item in req.body.get("input", []):
            if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
                output = item.get("output")
                out.append(output if isinstance(output, str) else json.dumps(output))
    return out


class _Handler(BaseHTTPRequestHandler):
    model: FakeModel
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.model._log(Logged("get", self.path, dict(self.headers), {}, None))
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"data": [], "models": [], "object": "list"})
        else:
            self._send(404, {"error": {"type": "not_found_error", "message": "not found"}})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?", 1)[0]
        api = "anthropic" if path.endswith("/messages") or path.endswith("/count_tokens") else "openai"
        key = self.headers.get("x-api-key") or (self.headers.get("authorization") or "").removeprefix("Bearer ")
        if self.model.reject_all or key != self.model.api_key:
            self.model._log(Logged(api, path, dict(self.headers), body, None))
            if api == "anthropic":
                self._send(401, {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"}})
            else:
                self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
            return
        if path.endswith("/count_tokens"):
            self.model._log(Logged(api, path, dict(self.headers), body, None))
            self._send(200, {"input_tokens": 10})
            return
        if self.model.delay:
            time.sleep(self.model.delay)
        if path.endswith("/messages"):
            self._anthropic(path, body)
        elif path.endswith("/responses"):
            self._openai(path, body)
        else:
            self.model._log(Logged(api, path, dict(self.headers), body, None))
            self._send(404, {"error": {"type": "not_found_error", "message": f"no route {path}"}})

    # -- Anthropic Messages -----------------------------------------------------------------------------
    def _anthropic(self, path: str, body: dict[str, Any]) -> None:
        names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        turn_no: int | None = None
        if "Bash" in names:  # the main conversation; a call that only waited for MCP servers is no turn
            turn_no = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant"
                          and not _waited(m))
        self.model._log(Logged("anthropic", path, dict(self.headers), body, turn_no))
        blocks: list[dict[str, Any]] = []
        stop = "end_turn"
        if turn_no is None:
            blocks.append({"type": "text", "text": self.model.side_reply})
        else:
            turn = self.model.script(body)[min(turn_no, len(self.model.script(body)) - 1)]
            if turn.bash is not None:
                blocks.append({"type": "tool_use", "id": f"toolu_{turn_no:04d}", "name": "Bash",
                               "input": {"command": turn.bash, "description": "scripted step"}})
                stop = "tool_use"
            elif turn.tool is not None and WAIT_MCP in names and turn.tool not in names and not any(
                    n and n.endswith(f"__{turn.tool}") for n in names):
                # Claude Code connects MCP servers in the background: wait for them, as a model would
                blocks.append({"type": "tool_use", "id": f"toolu_w{time.monotonic_ns()}", "name": WAIT_MCP,
                               "input": {}})
                stop = "tool_use"
            elif turn.tool is not None:
                match = [n for n in names if n and (n == turn.tool or n.endswith(f"__{turn.tool}"))]
                blocks.append({"type": "tool_use", "id": f"toolu_{turn_no:04d}", "name": match[0] if match
                               else turn.tool, "input": turn.args})
                stop = "tool_use"
            else:
                blocks.append({"type": "text", "text": turn.text or "done"})
        model = body.get("model", "claude-fake")
        tokens = self.model.tokens
        usage = {"input_tokens": tokens["input"], "output_tokens": tokens["output"],
                 "cache_creation_input_tokens": tokens["cache_write"], "cache_read_input_tokens": tokens["cache_read"]}
        message = {"id": f"msg_{time.monotonic_ns()}", "type": "message", "role": "assistant", "model": model,
                   "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            self._send(200, message)
            return
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events += [
                    ("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "text", "text": ""}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": {"type": "text_delta", "text": block["text"]}})]
            else:
                events += [
                    ("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                        "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                        "type": "input_json_delta", "partial_json": json.dumps(block["input"])}})]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": tokens["output"]}}),
                   ("message_stop", {"type": "message_stop"})]
        self._stream(events)

    # -- OpenAI Responses -------------------------------------------------------------------------------
    def _openai(self, path: str, body: dict[str, Any]) -> None:
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        if any(t.get("type") == "namespace" for t in tools):
            self.model.namespaces = [t for t in tools if t.get("type") == "namespace"]
        names = [str(t.get("name") or t.get("type")) for t in tools]
        items = [i for i in body.get("input") or [] if isinstance(i, dict)]
        shell = next((n for n in SHELL_TOOLS if n in names), None)
        outputs = [str(i.get("output")) for i in items if i.get("type") == "function_call_output"]
        # a command still running after the tool's yield time comes back as a session to poll (Codex's
        # exec_command): poll it with write_stdin, as a model would, without moving to the next turn
        running = _RUNNING.search(outputs[-1]) if outputs else None
        turn_no: int | None = sum(1 for o in outputs if not _RUNNING.search(o))
        if shell is None and not any("__" in n for n in names):
            turn_no = None
        self.model._log(Logged("openai", path, dict(self.headers), body, turn_no))
        rid = f"resp_{time.monotonic_ns()}"
        item: dict[str, Any]
        script = self.model.script(body)
        turn = script[min(turn_no, len(script) - 1)] if turn_no is not None else say(self.model.side_reply)
        if running is not None and turn_no is not None and "write_stdin" in names:
            call = f"call_poll_{len(outputs):04d}"
            item = {"type": "function_call", "id": f"fc_{call}", "call_id": call, "name": "write_stdin",
                    "arguments": json.dumps({"session_id": int(running.group(1)), "chars": "",
                                             "yield_time_ms": 30000}), "status": "completed"}
        elif turn.bash is not None and shell is not None:
            item = {"type": "function_call", "id": f"fc_{len(outputs)}", "call_id": f"call_{len(outputs):04d}", "name": shell,
                    "arguments": json.dumps(_shell_args(shell, turn.bash, tools)), "status": "completed"}
        elif turn.tool is not None:
            match = [n for n in names if n == turn.tool or n.endswith(f"__{turn.tool}")]
            item = {"type": "function_call", "id": f"fc_{len(outputs)}", "call_id": f"call_{len(outputs):04d}",
                    "name": match[0] if match else turn.tool, "arguments": json.dumps(turn.args),
                    "status": "completed"}
            for space in (t for t in tools if t.get("type") == "namespace"):  # Codex groups MCP tools
                if any(inner.get("name") == turn.tool for inner in space.get("tools") or []):
                    item.update(name=turn.tool, namespace=space.get("name"))
        else:
            item = {"type": "message", "role": "assistant", "id": f"msg_{turn_no}", "status": "completed",
                    "content": [{"type": "output_text", "text": turn.text or "done", "annotations": []}]}
        tokens = self.model.tokens
        usage = {"input_tokens": tokens["input"] + tokens["cache_read"],
                 "input_tokens_details": {"cached_tokens": tokens["cache_read"]}, "output_tokens": tokens["output"],
                 "output_tokens_details": {"reasoning_tokens": tokens["reasoning"]},
                 "total_tokens": tokens["input"] + tokens["cache_read"] + tokens["output"]}
        response = {"id": rid, "object": "response", "status": "completed", "model": body.get("model", "fake"),
                    "output": [item], "usage": usage}
        if not body.get("stream"):
            self._send(200, response)
            return
        self._stream([
            ("response.created", {"type": "response.created", "response": {**response, "status": "in_progress",
                                                                          "output": []}}),
            ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
            ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed", "response": response}),
        ])

    def _stream(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


def _shell_args(name: str, command: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Arguments for whichever shell tool the CLI offered, read from its JSON schema."""
    spec = next((t for t in tools if t.get("name") == name), {})
    props = ((spec.get("parameters") or {}).get("properties") or {})
    if "cmd" in props:
        return {"cmd": command, "yield_time_ms": 30000}
    if props.get("command", {}).get("type") == "array":
        return {"command": ["bash", "-c", command], "timeout_ms": 600000}
    return {"command": command}
