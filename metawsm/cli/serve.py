"""metawsm serve: the daemon — reconcile worker, HTTP API, forum WebSocket stream and web UI."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from metawsm.cli.common import add_command, repository, resolve_path
from metawsm.cli.goflags import add_db, check_db
from metawsm.errors import UsageError

log = logging.getLogger(__name__)

HELP = "run the daemon: reconcile worker, HTTP API, live forum stream and web UI"
DESCRIPTION = """\
Serve the API (/api/v1, see docs/api.md and /openapi.json), the forum WebSocket stream and the web
UI, and reconcile active runs every server.reconcile_interval seconds (with --operator, also run the
operator). Stops cleanly on SIGINT/SIGTERM: no new connections, the current tick finishes, WebSocket
clients get a close frame.

Loopback only unless a token is given (--token-file or server.token_file); with a token every API
call needs `Authorization: Bearer TOKEN` and the UI asks for it once (an HTTP-only cookie).

The Go metawsm's web UI: `--go-ui DIR` serves a built copy of it (its ui/dist/public) at /, and this
UI moves to /ui. The Go UI sends no token: run it on loopback without one, or sign in once at /login
(the session cookie then authorises its calls and its WebSocket). Go spellings are accepted:
`--addr :3001` (no host: 127.0.0.1, or every interface when a token is set) and `--db PATH` (the Go
store's path: accepted when it is this repository's .metawsm/metawsm.db, else refused; state lives
in .metawsm/state/, and `metawsm import-go` brings a Go store over).

exit codes: 0 stopped cleanly, 1 cannot listen, 2 usage (non-loopback address without a token)"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "serve", help=HELP, description=DESCRIPTION)
    p.add_argument("--addr", metavar="HOST:PORT", help="where to listen (default server.addr, 127.0.0.1:3001)")
    p.add_argument("--operator", action="store_true", help="also run the operator loop on each tick")
    p.add_argument("--token-file", metavar="FILE", help="file holding the bearer token (default server.token_file)")
    p.add_argument("--go-ui", metavar="DIR", help="serve this built Go metawsm web UI at / (ours moves to /ui)")
    add_db(p)
    p.set_defaults(run=run)


def parse_addr(addr: str) -> tuple[str, int]:
    """HOST:PORT, or the Go spelling `:PORT` (host "" — chosen by the caller)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--addr {addr!r}: expected HOST:PORT or :PORT, e.g. 127.0.0.1:3001")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from metawsm.config.loader import load_policy
    from metawsm.server.app import create_app
    from metawsm.server.auth import is_loopback, read_token
    from metawsm.server.limits import WS_MESSAGE_BYTES

    proj = repository(args)
    check_db(args, proj)
    policy = load_policy(proj)
    host, port = parse_addr(args.addr or policy.server.addr)
    token_file = args.token_file or policy.server.token_file
    token = None
    if token_file:
        path = Path(token_file)
        path = path if path.is_absolute() else (Path(args.cwd) if args.token_file else proj.root) / path
        token = read_token(path)
    if not host:  # the Go spelling `:PORT`: loopback, unless a token protects every interface
        host = "0.0.0.0" if token else "127.0.0.1"
    if not token and not is_loopback(host):
        raise UsageError(f"refusing to listen on {host}: a non-loopback address needs a token",
                         hint="pass --token-file FILE (or set server.token_file), or listen on 127.0.0.1")
    go_ui = None
    if args.go_ui:
        from metawsm.server.goui import resolve_dist

        go_ui = resolve_dist(resolve_path(args, args.go_ui))
    app = create_app(proj, policy, token=token, operator=args.operator, go_ui=go_ui, listen_host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=10, ws_ping_interval=20, ws_ping_timeout=20,
                            ws_max_size=WS_MESSAGE_BYTES, h11_max_incomplete_event_size=64 << 10)
    server = Server(config, app)
    scheme_host = f"[{host}]" if ":" in host else host
    args.out.info(f"serving {proj.root} on http://{scheme_host}:{port}"
                  + (" (token required)" if token else "") + (" with the operator" if args.operator else "")
                  + (f"; Go UI from {go_ui} at /, this UI at /ui" if go_ui else ""))
    from metawsm.cli import daemon_file

    link_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, scheme_host)  # a wildcard is not an address
    daemon_file.record(proj.state_dir, f"http://{link_host}:{port}" + ("/ui" if go_ui else ""))
    try:
        server.run()
    finally:
        daemon_file.forget(proj.state_dir)
    if not server.started:
        from metawsm.errors import MetawsmError

        raise MetawsmError(f"cannot listen on {host}:{port}", hint="is another daemon running there?")
    args.out.info("stopped")
    return 0


class Server:
    """uvicorn's server, closing WebSocket streams with a close frame (1001) as soon as a signal
    arrives, before uvicorn stops the connections."""

    def __init__(self, config: Any, app: Any) -> None:
        import uvicorn

        from metawsm.server import stream

        app_state = app

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                loop = getattr(self, "_metawsm_loop", None)
                if loop is not None and not self.should_exit:
                    loop.call_soon_threadsafe(lambda: loop.create_task(stream.close_all(app_state)))
                super().handle_exit(sig, frame)
                self._captured_signals.clear()  # a requested stop is a clean exit (0), not death by signal

            async def startup(self, sockets: Any = None) -> None:
                import asyncio  # here, not at module level: every command imports this module

                self._metawsm_loop = asyncio.get_running_loop()
                await super().startup(sockets)

        self._server = _Server(config)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def run(self) -> None:
        self._server.run()
