"""Entry point of the installed git hooks: `python -m metawsm.gate.hookrun pre-commit|pre-push [ARGS]`.

Hooks run on every commit, so the fast path (nothing metawsm cares about is staged or pushed) must cost
little more than starting Python: this module and the fast halves of `precommit`/`prepush` import only
os, sys, select and metawsm.gate.patterns — not even `re`, which json and fnmatch would bring (with enum,
over half an interpreter start). git runs through `os.posix_spawnp`: the `subprocess` module, with the
signal, threading and selectors imports it brings, costs a third of an interpreter start. yaml,
jsonschema, sqlite, the engine and libtmux are imported inside the functions that need them (a metawsm
file is staged, the policy cache is stale, a ticket branch is pushed). The policy facts the fast path
needs (forbidden file patterns, branch prefix) are cached in `.metawsm/state/hooks-cache.marshal`, keyed
by the policy file's path, size and mtime; `marshal` is built into the interpreter (json is not free: it
imports `re`). The cache is metawsm's own file in its state folder; one that does not load is a miss.

Exit codes: 0 pass, 1 refused (or metawsm failed: a hook never lets a crash pass silently).
"""

# os.path, not pathlib: these modules are the hooks' fast path, and pathlib is an import to avoid there.
# ruff: noqa: PTH100, PTH103, PTH105, PTH109, PTH112, PTH113, PTH116, PTH117, PTH118, PTH119, PTH120, PTH123

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the fast path
if TYPE_CHECKING:
    from typing import Any

CACHE_NAME = "hooks-cache.marshal"
CACHE_FORMAT = 3
HOOKS = ("pre-commit", "pre-push")

# GIT_* variables kept when git runs from inside a hook (same idea as pre-commit's `no_git_env`): git sets
# GIT_DIR, GIT_WORK_TREE, GIT_PREFIX, ... for hooks, and in a linked worktree or a submodule they point
# git at the wrong place. GIT_INDEX_FILE is the exception for the pre-commit hook: `git commit -a` and
# `git commit PATH` stage into a temporary index and the hook must read THAT index (see index_env()).
_KEEP = frozenset({
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_COUNT",
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_ASKPASS",
    "GIT_TERMINAL_PROMPT", "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_ALLOW_PROTOCOL",
})


def no_git_env(environ: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str]:
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items()
            if not k.startswith("GIT_") or k in _KEEP or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}


def index_env() -> dict[str, str]:
    """no_git_env() plus the index git is committing (absolute, since git may give it relative)."""
    env = no_git_env()
    index = os.environ.get("GIT_INDEX_FILE")
    if index:
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    return env


def run_git(cwd: str, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> bytes:
    """stdout of a git command; a failure raises HookError naming the command and git's message."""
    env = env if env is not None else no_git_env()
    if stdin is None:
        code, out, err = _spawn(["git", "-C", cwd, *args], env)
    else:  # feeding stdin while reading two pipes: subprocess does it well, and only slow paths need it
        import subprocess

        proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True, check=False)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    if code != 0:
        detail = err.decode(errors="replace").strip()
        raise HookError(f"`git {' '.join(args)}` failed (exit {code}): {detail}")
    return out


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `argv` with stdin from /dev/null: subprocess.run's job with posix_spawn
    and poll, whose modules are built in."""
    import select

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
    except OSError as exc:
        os.close(out_r)
        os.close(err_r)
        raise HookError(f"cannot run `{argv[0]}`: {exc.strerror}") from exc
    finally:
        for fd in (out_w, err_w, null):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    live = len(chunks)
    while live:
        for fd, _event in poller.poll():
            data = os.read(fd, 1 << 16)
            if data:
                chunks[fd].append(data)
            else:  # EOF (or POLLHUP after the last byte)
                poller.unregister(fd)
                os.close(fd)
                live -= 1
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]), b"".join(chunks[err_r])


class HookError(Exception):
    """A hook could not do its job (git failed, state unreadable): the commit or push is refused."""


# --------------------------------------------------------------------------- where things are
def main_root(top: str) -> str:
    """The main worktree of the worktree at `top` (metawsm's state lives there); no git process."""
    dotgit = os.path.join(top, ".git")
    if not os.path.isfile(dotgit):
        return top
    try:
        with open(dotgit, encoding="utf-8") as fh:
            content = fh.read().strip()
        gitdir = content.removeprefix("gitdir:").strip()
        gitdir = gitdir if os.path.isabs(gitdir) else os.path.join(top, gitdir)
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
            common = os.path.realpath(os.path.join(gitdir, fh.read().strip()))
    except OSError:
        return top  # a submodule or something unusual: treat the worktree as its own root
    return os.path.dirname(common) if os.path.basename(common) == ".git" else top


def policy_file(root: str) -> str | None:
    folder = os.path.join(root, ".metawsm")
    for name in ("policy.yaml", "policy.yml"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


# --------------------------------------------------------------------------- cached policy facts
def _defaults() -> dict[str, Any]:
    """The schema's defaults, from its JSON file (cheap: no yaml, no jsonschema)."""
    import json

    from metawsm.resources import data_dir

    with open(data_dir("schemas") / "policy.json", encoding="utf-8") as fh:
        props = json.load(fh)["properties"]
    return {
        "branch_prefix": props["workspace"]["properties"]["branch_prefix"]["default"],
        "forbidden": list(props["close"]["properties"]["forbidden_file_patterns"]["default"]),
    }


def policy_facts(root: str, cache_root: str | None = None) -> dict[str, Any]:
    """{"branch_prefix", "forbidden", "policy"} of the policy in `root`, cached under `cache_root`.

    "policy" is the whole effective policy as plain data (`dataclasses.asdict`, rebuilt with
    `config.models.build`), or None when there is no policy file (the defaults apply). A stale or missing
    cache entry loads the policy for real (yaml + jsonschema) and refreshes the entry; an invalid policy
    gives the schema defaults, uncached: its errors are the validator's business."""
    from metawsm import __version__

    path = policy_file(root)
    key: list[object]
    if path is None:  # the schema's defaults, cached too (reading them needs json), keyed by the schema file
        name, key = "", [*_stamp(_policy_schema()), __version__]
    else:
        name, key = path, [*_stamp(path), __version__]
    state = os.path.join(cache_root or root, ".metawsm", "state")
    cache_path = os.path.join(state, CACHE_NAME)
    entries: dict[str, Any] = {}
    try:
        with open(cache_path, "rb") as fh:
            cache = marshal.load(fh)
        if cache.get("format") == CACHE_FORMAT and isinstance(cache.get("entries"), dict):
            entries = cache["entries"]
    except (OSError, ValueError, EOFError, TypeError, AttributeError):
        pass
    entry = entries.get(name)
    if isinstance(entry, dict) and entry.get("key") == key:
        return entry
    entry = _load_entry(root) if path is not None else {**_defaults(), "policy": None}
    if entry is None:
        return {**_defaults(), "policy": None}
    entry["key"] = key
    if os.path.isdir(os.path.dirname(state)):  # never create .metawsm/ in a repository without one
        _write_cache(cache_path, {"format": CACHE_FORMAT, "entries": {**entries, name: entry}})
    return entry


def _policy_schema() -> str:
    """schemas/policy.json as metawsm.resources.data_dir finds it (os.path here: no pathlib on the fast path)."""
    import metawsm

    pkg = os.path.dirname(os.path.abspath(metawsm.__file__))
    for folder in (os.path.join(pkg, "_data", "schemas"), os.path.join(os.path.dirname(pkg), "schemas")):
        if os.path.isdir(folder):
            return os.path.join(folder, "policy.json")
    return ""


def _stamp(path: str) -> list[int]:
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns]


def _load_entry(root: str) -> dict[str, Any] | None:
    import dataclasses
    import json
    from pathlib import Path

    from metawsm.config.loader import load_policy
    from metawsm.config.project import Project
    from metawsm.errors import MetawsmError

    try:
        policy = load_policy(Project(Path(root)))
    except (MetawsmError, OSError):
        return None
    data = dataclasses.asdict(policy)
    return {"branch_prefix": policy.workspace.branch_prefix,
            "forbidden": list(policy.close.forbidden_file_patterns),
            "policy": json.loads(json.dumps(data))}


def _write_cache(path: str, data: dict[str, Any]) -> None:
    """Best effort (a read-only state folder only costs speed): write a temp file, then rename."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            marshal.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass


# --------------------------------------------------------------------------- dispatch
USAGE = "usage: python -m metawsm.gate.hookrun pre-commit [FILE...] | pre-push [REMOTE URL]\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in HOOKS:
        sys.stderr.write(USAGE)
        return 2
    hook, rest = args[0], args[1:]
    top = os.getcwd()
    try:
        if hook == "pre-commit":
            from metawsm.gate import precommit

            code, message = precommit.run(top, rest)
        else:
            from metawsm.gate import prepush

            code, message = prepush.run(top, rest, sys.stdin.buffer)
    except HookError as exc:
        code, message = 1, f"metawsm {hook}: {exc}\n  bypass (not recommended): git {_verb(hook)} --no-verify\n"
    except KeyboardInterrupt:
        return 130
    if message:
        sys.stderr.write(message if message.endswith("\n") else message + "\n")
    return code


def _verb(hook: str) -> str:
    return "commit" if hook == "pre-commit" else "push"


if __name__ == "__main__":
    sys.exit(main())
