"""`metawsm image build`: a base image for the docker backend, made offline from Debian packages.

``debootstrap --variant=minbase`` installs python3, git, tmux and ca-certificates (plus any packages asked
for, e.g. nodejs and npm for the agent CLIs) from the Debian mirror apt already uses, into a folder; the
folder becomes a tarball, kept in a cache (the same suite, mirror and packages reuse it), which
``docker import`` turns into the image, with ``ENV PATH`` set (an imported rootfs has no environment).
metawsm itself is not copied in: containers mount the running metawsm read-only (runtime/docker_run.py), so
the image needs the same Python as this machine — the default suite is this machine's Debian release.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from metawsm.errors import ExternalError, UsageError
from metawsm.runtime import proc
from metawsm.runtime.docker_cli import DockerCli
from metawsm.runtime.docker_run import STANDARD_PATH

BASE_PACKAGES = ("python3", "git", "tmux", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_SECONDS = 1800.0
IMPORT_SECONDS = 600.0
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}$")
_SUITE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,255}$")
_MIRROR = re.compile(r"^(https?|file)://[^\s,]{1,500}$")


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    suite: str
    mirror: str
    packages: tuple[str, ...]
    cache_dir: Path

    @property
    def tarball(self) -> Path:
        key = "\n".join([self.suite, self.mirror, *sorted(self.packages)]).encode()
        return self.cache_dir / f"rootfs-{self.suite}-{hashlib.sha256(key).hexdigest()[:12]}.tar"


@dataclass(frozen=True)
class ImageBuilt:
    tag: str
    image_id: str
    tarball: str
    reused_rootfs: bool
    seconds: float
    packages: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"tag": self.tag, "image_id": self.image_id, "tarball": self.tarball,
                "reused_rootfs": self.reused_rootfs, "seconds": round(self.seconds, 2), "packages": list(self.packages)}


def apt_source(root: Path = Path("/")) -> tuple[str, str]:
    """(mirror, suite) of this machine's Debian apt source, else Debian's default mirror and this release."""
    mirror, suite = "", ""
    sources = root / "etc/apt/sources.list.d/debian.sources"
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "URIs" and not mirror:
                mirror = value.split()[0] if value.split() else ""
            elif key.strip() == "Suites" and not suite:
                suite = value.split()[0] if value.split() else ""
    legacy = root / "etc/apt/sources.list"
    if not mirror and legacy.is_file():
        for line in legacy.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and not parts[1].startswith("["):
                mirror, suite = parts[1], suite or parts[2]
                break
    if not suite:
        release = root / "etc/os-release"
        text = release.read_text(encoding="utf-8", errors="replace") if release.is_file() else ""
        found = re.search(r"^VERSION_CODENAME=(\S+)$", text, re.M)
        suite = found.group(1).strip('"') if found else "bookworm"
    return mirror or DEFAULT_MIRROR, suite


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "metawsm" / "images"


def make_spec(tag: str, suite: str | None, mirror: str | None, extra: list[str], cache_dir: str | None) -> ImageSpec:
    """A validated ImageSpec (UsageError naming the bad value)."""
    if not _TAG.match(tag):
        raise UsageError(f"--tag {tag!r}: an image name such as metawsm-base:latest")
    found_mirror, found_suite = apt_source()
    suite, mirror = suite or found_suite, mirror or found_mirror
    if not _SUITE.match(suite):
        raise UsageError(f"--suite {suite!r}: a Debian suite name such as bookworm")
    if not _MIRROR.match(mirror):
        raise UsageError(f"--mirror {mirror!r}: an http(s):// or file:// URL")
    for package in extra:
        if not _PACKAGE.match(package):
            raise UsageError(f"--include {package!r}: a Debian package name")
    packages = tuple(dict.fromkeys([*BASE_PACKAGES, *extra]))
    return ImageSpec(tag, suite, mirror, packages, Path(cache_dir) if cache_dir else default_cache_dir())


def _rootfs(spec: ImageSpec) -> None:
    """debootstrap into a temporary folder beside the cache, then tar it (numeric owners) into the cache."""
    if shutil.which("debootstrap") is None:
        raise ExternalError("debootstrap is not installed", hint="apt-get install debootstrap")
    if os.geteuid() != 0:
        raise ExternalError("debootstrap needs root to build the image's root filesystem",
                            hint="run `metawsm image build` as root (e.g. with sudo)")
    spec.cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=spec.cache_dir))
    try:
        proc.run(["debootstrap", "--variant=minbase", f"--include={','.join(spec.packages)}", spec.suite,
                  str(work / "root"), spec.mirror], timeout=DEBOOTSTRAP_SECONDS)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):  # downloaded .debs and indexes: not needed
            for item in (work / "root" / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        partial = work / "rootfs.tar"
        proc.run(["tar", "--numeric-owner", "-C", str(work / "root"), "-cf", str(partial), "."],
                 timeout=IMPORT_SECONDS)
        partial.replace(spec.tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_image(spec: ImageSpec, docker: DockerCli, *, rebuild: bool = False) -> ImageBuilt:
    """Build (or reuse) the rootfs tarball and import it as ``spec.tag``."""
    started = time.monotonic()
    reused = spec.tarball.is_file() and not rebuild
    if not reused:
        _rootfs(spec)
    out = docker.run("import", "--change", f"ENV PATH={STANDARD_PATH}", "--change", 'CMD ["/bin/sh"]',
                     str(spec.tarball), spec.tag, timeout=IMPORT_SECONDS).stdout.strip()
    return ImageBuilt(spec.tag, out.splitlines()[-1] if out else "", str(spec.tarball), reused,
                      time.monotonic() - started, spec.packages)
