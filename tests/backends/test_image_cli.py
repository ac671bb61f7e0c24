"""`metawsm image build` refuses bad input before running anything (exit 2, the flag named), and reads this
machine's apt source for its defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from metawsm.runtime.image import DEFAULT_MIRROR, apt_source, make_spec
from tests.conftest import run_metawsm


class Case(NamedTuple):
    id: str
    args: tuple[str, ...]
    message: str


CASES = [
    Case("package", ("--include", "git,bad;pkg"), "--include 'bad;pkg': a Debian package name"),
    Case("suite", ("--suite", "../etc"), "--suite '../etc': a Debian suite name"),
    Case("mirror", ("--mirror", "ftp://x y"), "--mirror 'ftp://x y': an http(s):// or file:// URL"),
    Case("tag", ("--tag=-rm",), "--tag '-rm': an image name"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_usage_error_naming_the_flag(case: Case, tmp_path: Path) -> None:
    out = run_metawsm("image", "build", *case.args, "--cache-dir", str(tmp_path), "--json", cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert case.message in json.loads(out.stdout)["error"]["message"]
    assert list(tmp_path.iterdir()) == []  # nothing was built or cached


def test_defaults_come_from_the_apt_source(tmp_path: Path) -> None:
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list.d/debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: trixie trixie-updates\n")
    assert apt_source(tmp_path) == ("http://mirror.example/debian", "trixie")
    (tmp_path / "etc/apt/sources.list.d/debian.sources").unlink()
    (tmp_path / "etc/apt/sources.list").write_text("deb [arch=amd64] http://x/ y main\ndeb http://old/debian bullseye main\n")
    assert apt_source(tmp_path) == ("http://old/debian", "bullseye")
    (tmp_path / "etc/apt/sources.list").unlink()
    (tmp_path / "etc/os-release").write_text('NAME="Debian"\nVERSION_CODENAME=bookworm\n')
    assert apt_source(tmp_path) == (DEFAULT_MIRROR, "bookworm")


def test_the_cached_tarball_is_keyed_by_suite_mirror_and_packages(tmp_path: Path) -> None:
    one = make_spec("t:1", "bookworm", "http://m/debian", ["nodejs"], str(tmp_path))
    assert one.packages == ("python3", "git", "tmux", "ca-certificates", "nodejs")
    assert one.tarball == make_spec("t:2", "bookworm", "http://m/debian", ["nodejs"], str(tmp_path)).tarball
    assert one.tarball != make_spec("t:1", "bookworm", "http://m/debian", [], str(tmp_path)).tarball
    assert one.tarball.parent == tmp_path and one.tarball.name.startswith("rootfs-bookworm-")
