"""Runtime backends by name. `local` (the default) runs sessions in tmux on this machine; a new backend
(docker, ssh, swarm, kubernetes) is one module and one line here."""

from __future__ import annotations

from collections.abc import Callable

from metawsm.errors import UsageError
from metawsm.runtime.base import Runtime, RuntimeConfig


def _local(config: RuntimeConfig) -> Runtime:
    from metawsm.runtime.local import TmuxRuntime

    return TmuxRuntime(config)


BACKENDS: dict[str, Callable[[RuntimeConfig], Runtime]] = {
    "local": _local,
    "tmux": _local,
}


def open_runtime(config: RuntimeConfig) -> Runtime:
    """The Runtime named by ``config.backend``."""
    factory = BACKENDS.get(config.backend)
    if factory is None:
        raise UsageError(f"unknown runtime backend {config.backend!r}",
                         hint="known backends: " + ", ".join(sorted(BACKENDS)))
    return factory(config)
