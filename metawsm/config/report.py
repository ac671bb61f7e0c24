"""Human rendering of located diagnostics: a count header, then each error with a source snippet."""

from __future__ import annotations

from collections.abc import Sequence

from metawsm.errors import Diagnostic


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.col, d.message)


def format_diagnostic(d: Diagnostic) -> str:
    lines = [d.headline()]
    if d.snippet and d.line:
        gutter = str(d.line)
        snippet = d.snippet.replace("\t", " ")
        if len(snippet) > 76 - len(gutter):
            snippet = snippet[: 73 - len(gutter)] + "..."
        lines.append(f" {gutter} | {snippet}")
        caret_col = min(max(d.col, 1), len(snippet) + 1)
        lines.append(f" {' ' * len(gutter)} | {' ' * (caret_col - 1)}^")
    return "\n".join(lines)


def format_diagnostics(diagnostics: Sequence[Diagnostic]) -> str:
    diags = sorted(diagnostics, key=sort_key)
    files = len({d.file for d in diags})
    n = len(diags)
    header = f"{n} error{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}:"
    return "\n".join([header, *(format_diagnostic(d) for d in diags)])
