"""The one output facade: human output through rich, machine output as JSON on stdout.

Core code never prints; it returns data and the CLI hands it here. rich is imported lazily so
that commands on hot paths (`--version`, `signal`, hooks) start fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


# Terminal control characters (ESC starts CSI/OSC sequences: set the title, clear the screen, …) in text
# that came from the forum, tickets or agents are shown, never obeyed: `\x1b` instead of ESC.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def age(seconds: float | None) -> str:
    """Seconds since something, as `status` and the TUI show it: `42s ago`, `7m ago`, `2.5h ago` (or `-`)."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def escape_controls(text: str) -> str:
    """`text` with every control character but newline and tab shown as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if _CONTROL.search(text) else text


# Output that is not a terminal is not wrapped: tables size to their content, text lines stay whole.
UNWRAPPED_WIDTH = 1_000_000


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _json_default(obj: object) -> object:
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__fspath__"):
        return os.fspath(obj)  # type: ignore[arg-type]
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(data: object, *, indent: int | None = 2) -> str:
    """Stable JSON text: sorted keys are NOT forced, so callers control field order."""
    return json.dumps(data, indent=indent, ensure_ascii=False, default=_json_default)


class Output:
    """Where a command's results and messages go."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        color: bool | None = None,
        verbose: int = 0,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        width: int | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.verbose = verbose
        self._stdout = stdout if stdout is not None else sys.stdout
        self._stderr = stderr if stderr is not None else sys.stderr
        if color is None:
            color = not os.environ.get("NO_COLOR") and self._stderr.isatty()
        self.color = color
        self.width = width
        self._console: Console | None = None
        self._err_console: Console | None = None

    # -- rich consoles, built on first use -------------------------------------------------
    def _make_console(self, stream: IO[str]) -> Console:
        width = self.width
        if width is None and not _isatty(stream):
            width = UNWRAPPED_WIDTH  # a pipe or a file gets whole lines, never rich's 80-column default
        return _safe_console_class()(
            file=stream,
            no_color=not self.color,
            color_system="auto" if self.color else None,
            highlight=False,
            width=width,
            soft_wrap=False,
            emoji=False,
        )

    @property
    def console(self) -> Console:
        """Console for human results on stdout (never used in --json mode)."""
        if self._console is None:
            self._console = self._make_console(self._stdout)
        return self._console

    @property
    def err_console(self) -> Console:
        if self._err_console is None:
            self._err_console = self._make_console(self._stderr)
        return self._err_console

    # -- results -------------------------------------------------------------------------
    def result(self, data: object, human: Callable[[Console], None] | None = None) -> None:
        """Emit a command's result: JSON on stdout in --json mode, else the human renderer."""
        if self.json_mode:
            self._stdout.write(dumps(data) + "\n")
            self._stdout.flush()
        elif human is not None:
            human(self.console)

    def ndjson(self, data: object) -> None:
        """One JSON object per line (streams: `forum watch`, `operator`)."""
        self._stdout.write(dumps(data, indent=None) + "\n")
        self._stdout.flush()

    def text(self, message: str) -> None:
        """Plain text on stdout (human mode only), with no markup interpretation."""
        if not self.json_mode:
            self._stdout.write(escape_controls(message) + "\n")
            self._stdout.flush()

    def raw(self, message: str) -> None:
        """Text on stdout whatever the mode (e.g. `metawsm ask` prints the answer)."""
        self._stdout.write(escape_controls(message))
        self._stdout.flush()

    def stdout_is_terminal(self) -> bool:
        return _isatty(self._stdout)

    def page(self, text: str) -> None:
        """Long text on stdout (human mode only): through a pager when stdout is a terminal
        (``$METAWSM_PAGER``, ``$PAGER``, else ``less -FRX``; an empty value means none), else plain.
        ``text`` must already be safe for a terminal (control characters escaped, only colour codes added)."""
        if self.json_mode:
            return
        pager = os.environ.get("METAWSM_PAGER", os.environ.get("PAGER", "less -FRX"))
        if pager.strip() and self.stdout_is_terminal():
            import shlex
            import subprocess

            try:
                proc = subprocess.Popen(shlex.split(pager), stdin=subprocess.PIPE, text=True, encoding="utf-8",
                                        errors="replace")
            except OSError:
                pass  # no such pager: plain output below
            else:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(text)
                    proc.stdin.close()
                except BrokenPipeError:  # the person quit the pager early
                    pass
                proc.wait()
                return
        self._stdout.write(text)
        self._stdout.flush()

    # -- messages (always stderr) -----------------------------------------------------------
    def _message(self, prefix: str, style: str, message: str) -> None:
        if self.color:
            from rich.markup import escape

            self.err_console.print(f"[{style}]{prefix}[/{style}]{escape(message)}")
        else:
            self._stderr.write(f"{prefix}{escape_controls(message)}\n")
            self._stderr.flush()

    def info(self, message: str) -> None:
        if not self.json_mode:
            self._message("", "default", message)

    def notice(self, message: str) -> None:
        """A progress message on stderr in every mode, --json included (stdout stays the result)."""
        self._stderr.write(escape_controls(message) + "\n")
        self._stderr.flush()

    def success(self, message: str) -> None:
        if not self.json_mode:
            self._message("", "green", message)

    def warn(self, message: str) -> None:
        self._message("warning: ", "yellow", message)

    def error(self, message: str) -> None:
        self._message("error: ", "bold red", message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self._message("debug: ", "dim", message)

    def error_json(self, data: dict[str, Any]) -> None:
        self._stdout.write(dumps(data) + "\n")
        self._stdout.flush()


_SAFE_CONSOLE: type | None = None


def _safe_console_class() -> type:
    """rich's Console, with control characters in rendered text escaped (rich's own style and cursor
    codes are separate segments, left alone)."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is None:
        from rich.console import Console
        from rich.segment import Segment

        class SafeConsole(Console):
            def render(self, renderable: Any, options: Any = None) -> Any:
                for seg in super().render(renderable, options):
                    if seg.control is None and _CONTROL.search(seg.text):
                        seg = Segment(escape_controls(seg.text), seg.style)
                    yield seg

        _SAFE_CONSOLE = SafeConsole
    return _SAFE_CONSOLE
