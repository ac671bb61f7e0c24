"""metawsm image: the base image of the docker runtime backend, built offline from Debian packages."""

from __future__ import annotations

import argparse
from typing import Any

from metawsm.cli.common import add_command, project

HELP = "build the docker backend's base image offline (debootstrap + docker import)"
DESCRIPTION = """\
Images for the docker runtime backend (runtime.backend: docker, docs/backends.md).

  build   debootstrap --variant=minbase a Debian root filesystem with python3, git, tmux and
          ca-certificates (plus --include packages, e.g. nodejs,npm for the agent CLIs) from the
          mirror apt already uses, keep it as a tarball in the cache (the same suite, mirror and
          packages reuse it), and `docker import` it with ENV PATH set

Containers mount the running metawsm read-only, so the image's Python must be this machine's:
the default suite is this machine's Debian release. Needs root (debootstrap) and a docker daemon.

exit codes: 0 built, 1 a tool is missing or failed (named), 2 usage"""


def add_parser(subparsers: Any) -> None:
    p = add_command(subparsers, "image", help=HELP, description=DESCRIPTION)
    sub = p.add_subparsers(dest="image_command", metavar="SUBCOMMAND", parser_class=type(p))
    s = add_command(sub, "build", help="build the base image (debootstrap, cached rootfs, docker import)",
                    description="Build the docker backend's base image offline from Debian packages and "
                                "import it as --tag (default: the policy's runtime.docker.image).\n\n"
                                "exit codes: 0 built, 1 a tool is missing or failed, 2 usage")
    s.add_argument("--tag", help="image name:tag (default: runtime.docker.image, metawsm-base:latest)")
    s.add_argument("--suite", help="Debian suite (default: this machine's release, e.g. bookworm)")
    s.add_argument("--mirror", help="Debian mirror URL (default: the one apt uses here)")
    s.add_argument("--include", action="append", default=[], metavar="PKG[,PKG…]",
                   help="more Debian packages (repeatable, comma-separated), e.g. nodejs,npm")
    s.add_argument("--cache-dir", help="where root filesystem tarballs are kept (default ~/.cache/metawsm/images)")
    s.add_argument("--rebuild", action="store_true", help="debootstrap again even when a cached tarball fits")
    s.add_argument("--docker-host", help="docker daemon (docker -H; default: runtime.docker.host)")
    s.set_defaults(run=run_build)


def _docker_policy(args: argparse.Namespace) -> Any:
    from metawsm.config.loader import default_policy, load_policy

    proj = project(args)
    return (load_policy(proj) if proj.metawsm_dir.is_dir() else default_policy()).runtime.docker


def run_build(args: argparse.Namespace) -> int:
    from metawsm.runtime.docker_cli import DockerCli
    from metawsm.runtime.image import build_image, make_spec

    docker = _docker_policy(args)
    extra = [p.strip() for value in args.include for p in value.split(",") if p.strip()]
    spec = make_spec(args.tag or docker.image, args.suite, args.mirror, extra, args.cache_dir)
    built = build_image(spec, DockerCli(docker.cli, args.docker_host or docker.host), rebuild=args.rebuild)

    def human(console: Any) -> None:
        how = "reused cached rootfs" if built.reused_rootfs else f"debootstrap {spec.suite} from {spec.mirror}"
        console.print(f"built {built.tag} ({built.image_id[:19]}) in {built.seconds:.1f}s: {how}\n"
                      f"  packages: {', '.join(built.packages)}\n  rootfs: {built.tarball}",
                      markup=False, highlight=False)

    args.out.result(built.to_json(), human)
    return 0
