"""Issue 15: forbidden-file matching is case-insensitive, matches directories and their contents, and
the default list covers common secrets — in the pre-commit hook (real git, real hook) and the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawsm.config.loader import default_policy
from metawsm.gate.patterns import forbidden_match
from tests.hooks.helpers import commit, write
from tests.hooks.test_precommit import project  # noqa: F401 - fixture

DEFAULTS = default_policy().close.forbidden_file_patterns
CAUGHT = [".ENV", ".env", ".env.production", "ID_RSA", "id_ed25519", "home/.ssh/id_ecdsa", "id_dsa", "server.PEM", "keys/prod.KEY",
          ".env/inner.txt", "deep/.Env.local/x/y.txt", "cert.p12", "store.PFX", ".npmrc", "sub/.pypirc",
          ".aws/credentials", "home/.AWS/Credentials", ".netrc", "a/b/secret.key"]
PASSED = ["README.md", "src/environment.py", "docs/keys.md", "aws/credentials.md", "src/app.py", "pem.txt",
          "keyboard.json", ".github/workflows/ci.yml",
          "src/id_utils.py", "id_card.py"]


@pytest.mark.parametrize("path", CAUGHT)
def test_default_patterns_catch(path: str) -> None:
    assert forbidden_match(path, DEFAULTS), path


@pytest.mark.parametrize("path", PASSED)
def test_ordinary_files_pass(path: str) -> None:
    assert forbidden_match(path, DEFAULTS) is None, path


def test_user_patterns_match_directories_case_insensitively() -> None:
    assert forbidden_match("Secrets/Prod/db.txt", ["secrets"]) == "secrets"
    assert forbidden_match("a/SECRETS", ["secrets/"]) == "secrets/"
    assert forbidden_match("x/build/out.bin", ["*.BIN"]) == "*.BIN"


@pytest.mark.parametrize("path", [".ENV", "ID_RSA", "server.PEM", "keys/prod.KEY", ".env/inner.txt"])
def test_precommit_hook_refuses(project: Path, path: str) -> None:  # noqa: F811
    """The exact paths of the issue passed both the pre-commit hook and the gate."""
    write(project / path, "secret\n")
    r = commit(project, path, message="oops")
    assert r.returncode == 1 and path in r.stderr and "forbidden_file_patterns" in r.stderr
