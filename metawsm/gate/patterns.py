"""Forbidden-file matching, shared by the pre-commit hook, the pre-push hook and the gate (import-light:
the hooks' fast path uses it). Case-insensitive (`.ENV`, `ID_RSA`, `server.PEM` are caught on every
file system), and a pattern matches a directory and everything in it: each pattern is tried against
every run of consecutive path components (`keys/prod.KEY` → `prod.key`, `keys/prod.key`, `keys`;
`.env/inner.txt` → `.env`), so `*.key`, `.env*` and `.aws/credentials` match wherever they sit."""

from __future__ import annotations


def fnmatchcase(name: str, pattern: str) -> bool:
    """`fnmatch.fnmatchcase`, without importing `re` for the patterns that need none: a pattern whose only
    wildcard is `*` (every default is one) is matched by hand; `?` and `[...]` go to fnmatch. The hooks'
    fast path runs this on every commit, and `re` (with enum) costs over half an interpreter start."""
    if "?" in pattern or "[" in pattern:
        from fnmatch import fnmatchcase as full

        return full(name, pattern)
    parts = pattern.split("*")
    if len(parts) == 1:
        return name == pattern
    head, *middle, tail = parts
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    pos, end = len(head), len(name) - len(tail)
    for part in middle:  # each in order, leftmost first, inside what head and tail leave
        found = name.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def candidates(path: str) -> set[str]:
    parts = [p for p in path.lower().replace("\\", "/").split("/") if p]
    return {"/".join(parts[i:j]) for j in range(1, len(parts) + 1) for i in range(j)}


def forbidden_match(path: str, patterns: list[str] | tuple[str, ...]) -> str | None:
    """The first pattern that `path` (or a directory it sits in) matches, else None."""
    names = candidates(path)
    for pattern in patterns:
        low = pattern.lower().strip("/")
        if low and any(fnmatchcase(name, low) for name in names):
            return pattern
    return None
