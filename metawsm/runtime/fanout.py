"""What the container backends (docker, swarm, kubernetes) share: their client commands run a few at once, and
the screen/send/paste calls that need only the tmux inside the session's container."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from metawsm.runtime.base import Screen
    from metawsm.runtime.tmux import Tmux

T = TypeVar("T")
R = TypeVar("R")
WORKERS = 8  # client commands in flight at once (each is a CLI process; the daemons serve them together)


def parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items``, up to :data:`WORKERS` at once, results in order (one item: no thread)."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
        return list(pool.map(fn, todo))


class InnerTmuxIO:
    """``screen``/``send``/``paste`` through :meth:`_session_tmux`, the tmux inside the container that holds the
    session (each backend finds it its own way and raises when the session is not its repository's)."""

    def _session_tmux(self, name: str) -> Tmux:
        raise NotImplementedError

    def screen(self, name: str, *, ansi: bool = True) -> Screen:
        from metawsm.runtime.tmux_screen import capture_screen

        return capture_screen(self._session_tmux(name), name, ansi=ansi)

    def send(self, name: str, text: str, *, enter: bool = True) -> None:
        self._session_tmux(name).send_keys(name, text, enter=enter)

    def paste(self, name: str, text: str, *, enter: bool = True) -> None:
        from metawsm.runtime.tmux_screen import paste

        paste(self._session_tmux(name), name, text, enter=enter)
