"""A terminal screen (text with SGR colour sequences, as `tmux capture-pane -e` gives it) as escaped HTML.

Every character of the text is HTML-escaped; colours become `<span style="…">` built only from numbers and a
fixed palette, so nothing an agent prints can become markup. Any escape sequence other than SGR, and every
other control character, is dropped. The input is bounded (MAX_CHARS) before it is parsed.
"""

from __future__ import annotations

import html
import re

MAX_CHARS = 200_000  # a 500x400 screen; more is cut (a screen capture holds only the visible rows)
_ESCAPES = re.compile(r"\x1b\[([0-9;:]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# xterm's 16 colours
PALETTE = ("#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
           "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff")


def _xterm256(n: int) -> str:
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return f"#{levels[n // 36]:02x}{levels[(n // 6) % 6]:02x}{levels[n % 6]:02x}"
    grey = 8 + 10 * (n - 232)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


class _Style:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fg: str | None = None
        self.bg: str | None = None
        self.bold = self.dim = self.italic = self.underline = self.inverse = False

    def apply(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.inverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.inverse = False
            elif 30 <= c <= 37 or 90 <= c <= 97:
                self.fg = PALETTE[c - 30 if c < 90 else c - 82]
            elif 40 <= c <= 47 or 100 <= c <= 107:
                self.bg = PALETTE[c - 40 if c < 100 else c - 92]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                colour, used = _extended(codes[i + 1:])
                if colour is not None:
                    if c == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
                i += used
            i += 1

    def css(self) -> str:
        fg, bg = (self.bg, self.fg) if self.inverse else (self.fg, self.bg)
        if self.inverse:
            fg, bg = fg or "var(--screen-bg)", bg or "var(--screen-fg)"
        parts = ([f"color:{fg}"] if fg else []) + ([f"background:{bg}"] if bg else [])
        parts += ["font-weight:bold"] * self.bold + ["opacity:.7"] * self.dim + ["font-style:italic"] * self.italic
        parts += ["text-decoration:underline"] * self.underline
        return ";".join(parts)


def _extended(rest: list[int]) -> tuple[str | None, int]:
    """38;5;N or 38;2;R;G;B (after the 38/48): the colour and how many codes it used."""
    if rest[0] == 5 and len(rest) >= 2:
        return _xterm256(min(max(rest[1], 0), 255)), 2
    if rest[0] == 2 and len(rest) >= 4:
        r, g, b = (min(max(v, 0), 255) for v in rest[1:4])
        return f"#{r:02x}{g:02x}{b:02x}", 4
    return None, 1


def to_html(text: str) -> str:
    """`text` (a screen with SGR sequences) as HTML for a `<pre>`: escaped text in styled spans."""
    text = text[:MAX_CHARS]
    style = _Style()
    out: list[str] = []
    at = 0

    def emit(chunk: str) -> None:
        chunk = _CONTROLS.sub("", chunk)
        if not chunk:
            return
        css = style.css()
        escaped = html.escape(chunk, quote=True)
        out.append(f'<span style="{css}">{escaped}</span>' if css else escaped)

    for m in _ESCAPES.finditer(text):
        emit(text[at:m.start()])
        at = m.end()
        if m.group(2) == "m":
            style.apply(m.group(1) or "")
    emit(text[at:])
    return "".join(out)


def plain(text: str) -> str:
    """`text` without any escape sequence or control character (newlines and tabs kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text[:MAX_CHARS]))
