"""tmux inside a container or a pod: the local backend's :class:`~metawsm.runtime.tmux.Tmux` with every tmux
invocation run through the engine's exec (``docker exec C tmux …``, ``kubectl exec POD -c agent -- tmux …``), so
sessions, labels, exit statuses, batching and capture behave exactly as they do locally."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from metawsm.errors import ExternalError
from metawsm.runtime import proc
from metawsm.runtime.tmux import Tmux
from metawsm.runtime.tmux_args import command_args
from metawsm.runtime.tmux_panes import PaneInfo

TIMEOUT = 120.0  # seconds for one exec (an exec into a container on a loaded machine takes a few)


class ExecTmux(Tmux):
    """The tmux server at socket name ``socket`` inside ``where`` (e.g. "container mw-x-1"), reached by
    :meth:`argv`. ``fresh``: it was just (re)started and runs no tmux server yet, so the first listing is empty
    without asking."""

    def __init__(self, socket: str, where: str, *, fresh: bool = False) -> None:
        super().__init__(socket)
        self.tmux_bin = "tmux"  # the image's own tmux (the pane's exit status is recorded with it)
        self.where = where
        self._fresh = fresh

    def argv(self, *args: str, stdin: bool = False, tty: bool = False) -> list[str]:
        """The command line running ``tmux ARGS`` inside (``stdin``: with standard input attached)."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, PaneInfo]:
        if self._fresh:
            self._fresh = False
            return {}
        return super().snapshot()

    def _cmd(self, *args: str, check: bool = True) -> tuple[int, list[str], list[str]]:
        result = proc.run(self.argv(*args), check=False, timeout=TIMEOUT)
        out, err = result.stdout.splitlines(), result.stderr.splitlines()
        if check and result.code != 0:
            raise ExternalError(f"tmux in {self.where} failed with exit code {result.code}: "
                                f"tmux {shlex.join(args[:1])}\n" + "\n".join("  " + line for line in err[-10:]))
        return result.code, out, err

    def load_buffer(self, buffer: str, text: str) -> None:
        """Put ``text`` in paste buffer ``buffer`` inside (through exec's stdin: no command-line limit)."""
        proc.run(self.argv("load-buffer", "-b", buffer, "-", stdin=True), input=text, timeout=15)

    def window_command(self, command: str | None, env: Mapping[str, str]) -> list[str]:
        return command_args(command, self.tmux_bin, None)
