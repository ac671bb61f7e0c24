"""RoutedRuntime: one repository's sessions across backends, each call sent to the backend holding the session.

Two real tmux servers stand for two backends (the second registered under another name for the test)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from metawsm.errors import UsageError
from metawsm.runtime import registry
from metawsm.runtime.base import RuntimeConfig, SessionSpec
from metawsm.runtime.router import RoutedRuntime

pytestmark = pytest.mark.tmux


@pytest.fixture
def sockets(tmux_socket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setitem(registry.BACKENDS, "other", registry.BACKENDS["local"])
    other = f"{tmux_socket}-b"
    yield {"local": tmux_socket, "other": other}
    subprocess.run(["tmux", "-L", other, "kill-server"], capture_output=True)


def routed(sockets: dict[str, str], in_use: tuple[str, ...] = ()) -> RoutedRuntime:
    return RoutedRuntime(lambda name: RuntimeConfig(name, sockets[name], "aaaa1111", "/repos/a"), in_use)


def has(socket: str, session: str) -> bool:
    return subprocess.run(["tmux", "-L", socket, "has-session", "-t", f"={session}"],
                          capture_output=True).returncode == 0


def test_sessions_live_on_the_backend_their_spec_names(sockets: dict[str, str], tmp_path: Path) -> None:
    rt = routed(sockets)
    specs = [SessionSpec("a", str(tmp_path), {}, "sleep 30"),
             SessionSpec("b", str(tmp_path), {}, "sleep 30", backend="other"),
             SessionSpec("c", str(tmp_path), {}, "sleep 30")]
    assert [i.name for i in rt.create_many(specs)] == ["a", "b", "c"]
    assert (has(sockets["local"], "a"), has(sockets["local"], "b"), has(sockets["other"], "b")) == (True, False, True)
    assert rt.in_use == ("local", "other")
    assert {k: v.backend for k, v in rt.sessions().items()} == {"a": "local", "b": "other", "c": "local"}
    # a fresh router (another command) that knows "other" is in use finds b there by name alone
    again = routed(sockets, ("other",))
    assert again.attach_command("b")[:3] == ["tmux", "-L", sockets["other"]]
    again.send("b", "ignored")
    assert again.kill("b") and not has(sockets["other"], "b")
    assert not again.kill("b")  # gone: nothing to end, on any backend
    assert again.respawn_many([SessionSpec("a", str(tmp_path), {}, "sleep 31")]).keys() == {"a"}


def test_a_router_that_does_not_use_a_backend_never_sees_its_sessions(sockets: dict[str, str], tmp_path: Path) -> None:
    routed(sockets).create(SessionSpec("b", str(tmp_path), {}, "sleep 30", backend="other"))
    assert "b" not in routed(sockets).sessions()
    assert "b" in routed(sockets, ("other",)).sessions()


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones(sockets: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="unknown runtime backend 'nomad'") as info:
        routed(sockets, ("nomad",))
    assert "local" in (info.value.hint or "")


def test_every_backend_and_the_router_implement_the_whole_protocol() -> None:
    from metawsm.runtime.base import Runtime
    from metawsm.runtime.docker import DockerRuntime
    from metawsm.runtime.kubernetes import KubeRuntime
    from metawsm.runtime.local import TmuxRuntime

    members = [m for m in vars(Runtime) if not m.startswith("_")]
    assert {"create", "respawn", "sessions", "kill", "attach_command", "release"} <= set(members)
    for cls in (TmuxRuntime, DockerRuntime, KubeRuntime, RoutedRuntime):
        assert [m for m in members if not hasattr(cls, m)] == [], cls.__name__
