"""One lock per operation: a command that changes a run holds the run's lease from start to end.

``operation(eng, run_id, command)`` takes the run's lease (``metawsm.state.lease``), waiting up to the lock
timeout while another live process holds it, then raises :class:`LeaseBusy` naming the holder (pid, host,
command, since when). While the block runs, a heartbeat thread renews the lease every third of its ttl, so
an operation longer than the ttl keeps it; a holder that died (pid gone on this host, or its lease
expired) is taken over. Operations nest: a thread that holds a run's lease enters it again at once (apply
→ reconcile → close of a ticket), so code below the commands takes the lease the same way they do.

Settings: the lock timeout is ``--lock-timeout`` (``set_timeout``), else ``METAWSM_LOCK_TIMEOUT``, else 5 s;
the lease ttl is ``METAWSM_LEASE_TTL`` (seconds, default 30).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from metawsm.errors import MetawsmError, StateError, UsageError
from metawsm.state.lease import describe_holder

if TYPE_CHECKING:
    from metawsm.engine.context import Engine
    from metawsm.state.models import Lease

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
DEFAULT_TTL = 30.0
MAX_SECONDS = 86_400.0
F = TypeVar("F", bound=Callable[..., Any])

_timeout_override: float | None = None
_local = threading.local()


class LeaseBusy(MetawsmError):
    """Another live process holds the run's lease (and kept it past the lock timeout)."""

    code = "lease_busy"


def check_seconds(value: float, what: str) -> float:
    if not (0 <= value <= MAX_SECONDS):  # also refuses NaN
        raise UsageError(f"{what} must be between 0 and {MAX_SECONDS:.0f} seconds, not {value}")
    return value


def set_timeout(seconds: float | None) -> None:
    """The process-wide lock timeout (``--lock-timeout``); None goes back to the environment/default."""
    global _timeout_override
    _timeout_override = None if seconds is None else check_seconds(float(seconds), "--lock-timeout")


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return check_seconds(float(raw), name)
    except ValueError as exc:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from exc


def lock_timeout() -> float:
    return _timeout_override if _timeout_override is not None else _env_seconds("METAWSM_LOCK_TIMEOUT",
                                                                                 DEFAULT_TIMEOUT)


def lease_ttl() -> float:
    return max(_env_seconds("METAWSM_LEASE_TTL", DEFAULT_TTL), 0.3)


def _held() -> dict[tuple[str, str], int]:
    held: dict[tuple[str, str], int] | None = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    return held


def holds(eng: Engine, run_id: str) -> bool:
    """Whether this thread holds the run's lease (inside an operation on it)."""
    return (str(eng.store.path), run_id) in _held()


class _Heartbeat(threading.Thread):
    """Renews a held lease every ttl/3 until stopped; a lost lease is logged (its new holder goes on)."""

    def __init__(self, eng: Engine, lease: Lease, ttl: float) -> None:
        super().__init__(name=f"lease-heartbeat-{lease.run_id}", daemon=True)
        self.eng, self.lease, self.ttl = eng, lease, ttl
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.ttl / 3):
            try:
                self.lease = self.eng.store.renew_lease(self.lease, ttl=self.ttl)
            except StateError as exc:
                self.lost = True
                log.warning("%s: %s", self.lease.command or "operation", exc.message)
                return

    def stop(self) -> Lease:
        self.stopped.set()
        self.join()
        return self.lease


def _acquire(eng: Engine, run_id: str, command: str, timeout: float) -> Lease | None:
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        lease = eng.store.acquire_lease(run_id, ttl=lease_ttl(), command=command)
        if lease is not None or time.monotonic() >= deadline:
            return lease
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.01)))
        pause = min(pause * 2, 0.5)


@contextmanager
def _hold(eng: Engine, run_id: str, lease: Lease) -> Iterator[Lease]:
    key = (str(eng.store.path), run_id)
    held = _held()
    heartbeat = _Heartbeat(eng, lease, lease_ttl())
    heartbeat.start()
    held[key] = 1
    try:
        yield lease
    finally:
        held.pop(key, None)
        last = heartbeat.stop()
        if not heartbeat.lost:
            eng.store.release_lease(last)


@contextmanager
def operation(eng: Engine, run_id: str, command: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the run's lease for the block; LeaseBusy (exit 1) naming the holder after ``timeout`` seconds
    (default: the lock timeout). Re-entrant within a thread."""
    key = (str(eng.store.path), run_id)
    held = _held()
    if key in held:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    wait = lock_timeout() if timeout is None else timeout
    lease = _acquire(eng, run_id, f"metawsm {command}", wait)
    if lease is None:
        holder = eng.store.lease_holder(run_id)
        raise LeaseBusy(
            f"{_what(run_id)} is locked by {describe_holder(holder)}; `metawsm {command}` waited {wait:g}s",
            hint="retry when it is done, or wait longer with --lock-timeout S; the lease of a holder that died "
                 f"is taken over (at once on this host, else when it expires, within {lease_ttl():g}s)")
    with _hold(eng, run_id, lease):
        yield


@contextmanager
def try_operation(eng: Engine, run_id: str, command: str) -> Iterator[bool]:
    """Like :func:`operation` without waiting: yields False (and holds nothing) while another holds it."""
    if holds(eng, run_id):
        with operation(eng, run_id, command):
            yield True
        return
    lease = eng.store.acquire_lease(run_id, ttl=lease_ttl(), command=f"metawsm {command}")
    if lease is None:
        yield False
        return
    with _hold(eng, run_id, lease):
        yield True


def plan_key(plan_name: str) -> str:
    """The lease key that serializes applies of one plan before its run exists."""
    return f"plan:{plan_name}"


def _what(key: str) -> str:
    return f"plan {key[5:]}" if key.startswith("plan:") else f"run {key}"


def locked(command: str) -> Callable[[F], F]:
    """Decorate ``fn(eng, run, ...)`` (``run`` a Run or a run id) to run as one operation on that run; a Run
    argument is read again under the lease, so the function never acts on a state read before it waited. A call
    with ``dry_run=True`` runs without the lease."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(eng: Engine, run: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dry_run"):  # a dry run changes nothing: it takes no lease (and writes none)
                return fn(eng, run, *args, **kwargs)
            run_id = run if isinstance(run, str) else run.run_id
            with operation(eng, run_id, command):
                if not isinstance(run, str):
                    run = eng.store.get_run(run_id)
                return fn(eng, run, *args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap
