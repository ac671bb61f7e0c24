"""A tmux pane's live screen (visible rows with their colours, size and cursor) and bracketed paste into it.

Both serve the people watching agents (`metawsm tui`, the web UI's live screens): one tmux invocation per
screen, and a paste that reaches an interactive CLI as one input however many lines it has.
"""

from __future__ import annotations

import itertools
import os

from metawsm.errors import ExternalError, UsageError
from metawsm.runtime.base import Screen
from metawsm.runtime.tmux import Tmux
from metawsm.runtime.tmux_args import arg, check_session_name

MAX_PASTE_BYTES = 60_000  # a message typed into an agent (the same bound as iterate's feedback)
_SIZE = "@@metawsm-screen@@ #{pane_width} #{pane_height} #{cursor_x} #{cursor_y}"
_buffers = itertools.count(1)


def capture_screen(tmux: Tmux, name: str, *, ansi: bool = True) -> Screen:
    """The visible rows of session ``name``'s agent pane (``-e``: SGR colour sequences kept), its size and
    cursor, from ONE tmux invocation. ExternalError when the session is gone."""
    check_session_name(name)
    target = arg(f"={name}:^")
    code, out, err = tmux._cmd("capture-pane", "-p", *(["-e"] if ansi else []), "-t", target, ";",
                               "display-message", "-p", "-t", target, _SIZE, check=False)
    if code != 0 or not out or not out[-1].startswith("@@metawsm-screen@@ "):
        raise ExternalError(f"cannot capture the screen of session {name!r} on tmux -L {tmux.socket_name}: "
                            + (" ".join(err) or "no such session"))
    width, height, cx, cy = (int(v) if v.isdigit() else 0 for v in out[-1].split(" ")[1:5])
    rows = out[:-1]
    while rows and not rows[-1].strip():
        rows.pop()
    return Screen(name, "\n".join(rows), width, height, cx, cy)


def paste(tmux: Tmux, name: str, text: str, *, enter: bool = True) -> None:
    """Paste ``text`` into session ``name``'s agent pane through a tmux buffer (``paste-buffer -p``: wrapped in
    bracketed-paste codes when the program asked for them), then Enter unless ``enter`` is False. The buffer
    is loaded from stdin, so the text's size is not bound by tmux's command-line limit, and deleted after."""
    check_session_name(name)
    if len(text.encode("utf-8")) > MAX_PASTE_BYTES:
        raise UsageError(f"the message is {len(text.encode('utf-8'))} bytes; at most {MAX_PASTE_BYTES} can be pasted")
    target = arg(f"={name}:^")
    if text:
        buffer = f"metawsm-paste-{os.getpid()}-{next(_buffers)}"
        tmux.load_buffer(buffer, text)
        args = ["paste-buffer", "-p", "-d", "-b", buffer, "-t", target]
        if enter:
            args += [";", "send-keys", "-t", target, "Enter"]
        tmux._cmd(*args)
    elif enter:
        tmux._cmd("send-keys", "-t", target, "Enter")
