"""The CLI as a user meets it: help everywhere, the error boundary, global options, init round trip."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from metawsm import __version__
from metawsm.cli import main as main_mod
from tests.conftest import run_metawsm


def _all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}".strip())

    walk(main_mod.build_parser(), "")
    return found


@pytest.mark.parametrize("name", [n for n, _ in _all_parsers()])
def test_every_command_has_help(name: str, cli) -> None:  # type: ignore[no-untyped-def]
    parser = dict(_all_parsers())[name]
    assert parser.description, f"`metawsm {name}` has no description"
    result = cli(*name.split(), "--help")
    assert result.code == 0
    assert "usage: metawsm" in result.out
    assert "--json" in result.out


def test_every_registered_module_has_the_parts() -> None:
    import importlib

    for name in main_mod.COMMANDS:
        module = importlib.import_module(f"metawsm.cli.{main_mod.MODULES.get(name, name)}")
        assert module.__doc__ and callable(getattr(module, "add_named_parser", None)
                                           or getattr(module, "add_parser", None)), name


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("--version").out == f"metawsm {__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "metawsm", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == f"metawsm {__version__}\n"


def test_no_command_is_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli().code == 2


def test_unknown_command_and_option(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("frobnicate")
    assert result.code == 2 and "invalid choice: 'frobnicate'" in result.err
    result = cli("validate", "--frob")
    assert result.code == 2 and "unrecognized arguments: --frob" in result.err


def test_usage_error_in_json_mode_goes_to_stdout_as_json(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--json", "--frob")
    assert result.code == 2
    assert json.loads(result.out)["error"]["code"] == "usage"


def test_global_options_before_or_after_the_verb(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    cli("init", cwd=repo)
    before = cli("--json", "-C", str(repo), "validate")
    after = cli("validate", "--json", "-C", str(repo))
    assert before.code == after.code == 0
    assert json.loads(before.out) == json.loads(after.out)


def test_dash_c_missing_directory(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("-C", str(tmp_path / "nope"), "validate")
    assert result.code == 2 and "no such directory" in result.err


def test_init_validate_round_trip(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", "--demo", "--json", cwd=repo)
    assert result.code == 0
    written = json.loads(result.out)["written"]
    assert ".metawsm/policy.yaml" in written and "plans/demo.yaml" in written
    for rel in (".metawsm/policy.yaml", "tickets/DEMO-1.yaml", "plans/demo.yaml"):
        first = (repo / rel).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        schema_path = (repo / rel).parent / first.split("=", 1)[1]
        assert schema_path.resolve().is_file(), first
    assert (repo / ".metawsm/.gitignore").read_text() == "state/\nworkspaces/\n"
    result = cli("validate", "--json", cwd=repo)
    assert result.code == 0
    assert json.loads(result.out) == {
        "valid": True,
        "files": [".metawsm/policy.yaml", "plans/demo.yaml", "plans/example.yaml", "tickets/DEMO-1.yaml",
                  "tickets/DEMO-2.yaml", "tickets/EXAMPLE-1.yaml"],
        "tickets": 3,
        "plans": ["demo", "example"],
    }


def test_init_refuses_to_overwrite_and_names_files(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", cwd=repo).code == 0
    (repo / "tickets/EXAMPLE-1.yaml").write_text("id: EXAMPLE-1\ntitle: mine\n")
    result = cli("init", cwd=repo)
    assert result.code == 1
    assert "refusing to overwrite 4 existing files: .metawsm/.gitignore, .metawsm/policy.yaml" in result.err
    assert "--force" in result.err
    assert (repo / "tickets/EXAMPLE-1.yaml").read_text() == "id: EXAMPLE-1\ntitle: mine\n"
    assert cli("init", "--force", cwd=repo).code == 0
    assert "Describe the change" in (repo / "tickets/EXAMPLE-1.yaml").read_text()


def test_schema_print_and_out(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("schema", "ticket", cwd=repo)
    assert json.loads(result.out)["$id"].endswith("/ticket.json")
    assert set(json.loads(cli("schema", cwd=repo).out)) == {"policy", "ticket", "plan"}
    result = cli("schema", "--out", "s", "--json", cwd=repo)
    assert result.code == 0 and sorted(p.name for p in (repo / "s").iterdir()) == [
        "plan.json", "policy.json", "ticket.json"]


def test_unexpected_error_exits_3_with_crash_log(repo: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import metawsm.cli.validate as validate_cmd

    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("kaboom")

    cli("init", cwd=repo)
    monkeypatch.setattr(validate_cmd, "run", boom)  # the CLI dispatch seam
    result = cli("validate", cwd=repo)
    assert result.code == 3
    assert result.err.count("\n") == 1 and "internal error: RuntimeError: kaboom" in result.err
    log = repo / ".metawsm/state/logs/crash.log"
    assert "Traceback" in log.read_text() and "kaboom" in log.read_text()


def test_ctrl_c_exits_130(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import metawsm.cli.validate as validate_cmd

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate_cmd, "run", interrupted)
    assert cli("validate").code == 130


def test_json_mode_keeps_stdout_clean(repo: Path) -> None:
    proc = run_metawsm("init", "--json", cwd=repo)
    assert proc.returncode == 0
    json.loads(proc.stdout)
    proc = run_metawsm("validate", "--json", "tickets/EXAMPLE-1.yaml", cwd=repo)
    assert json.loads(proc.stdout)["valid"] is True


def test_no_color_env_and_flag(repo: Path) -> None:
    (repo / "tickets").mkdir()
    (repo / "tickets/ABC-1.yaml").write_text("id: ABC-1\n")
    for extra_env, flags in (({"NO_COLOR": "1"}, []), ({}, ["--no-color"])):
        proc = run_metawsm("validate", *flags, cwd=repo, env=extra_env)
        assert proc.returncode == 2 and "\x1b[" not in proc.stderr
