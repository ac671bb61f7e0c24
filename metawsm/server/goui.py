"""`metawsm serve --go-ui DIR`: serve a built Go metawsm web UI (its Vite `dist/public`) at `/`, with
the single-page-app fallback (an unknown path gets `index.html`), while this daemon's own pages move
to `/ui`. The API, the stream, `/login`, `/logout`, `/static` and `/openapi.json` keep their paths;
an unknown `/api…` path is a JSON 404 in the error shape, never the SPA's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from metawsm.errors import UsageError
from metawsm.server.errors import error_body

OWN_UI_BASE = "/ui"
CANDIDATES = (".", "public", "dist/public")  # DIR itself, a `dist/`, or the Go repository's `ui/`


def resolve_dist(path: str | Path) -> Path:
    """The folder holding the built UI's index.html: DIR, DIR/public or DIR/dist/public."""
    root = Path(path).expanduser()
    for rel in CANDIDATES:
        folder = (root / rel).resolve()
        if (folder / "index.html").is_file():
            return folder
    raise UsageError(f"--go-ui {path}: no index.html in it (nor in public/ or dist/public/)",
                     hint="pass the folder a Go metawsm UI build wrote (its ui/dist/public, as the Go "
                          "repository's `go generate ./internal/web` produces it)")


def install(app: Any, dist: Path) -> None:
    """Add the Go UI's routes to `app`, after every other route (the fallback catches the rest)."""
    index = dist / "index.html"

    async def go_ui(request: Request, path: str = "") -> Response:
        if path == OWN_UI_BASE.strip("/"):
            return RedirectResponse(OWN_UI_BASE + "/", status_code=307)
        if path == "api" or path.startswith("api/"):
            return JSONResponse(error_body("not_found", f"no route {request.url.path}"), status_code=404)
        if path:
            target = (dist / path).resolve()
            if target.is_relative_to(dist) and target.is_file():
                return FileResponse(target)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_api_route("/", go_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/{path:path}", go_ui, methods=["GET", "HEAD"], include_in_schema=False)
