"""Plain aligned tables, like docker compose prints (no rich import: these verbs stay quick)."""

from __future__ import annotations

from collections.abc import Sequence

import typer


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in [list(headers), *[list(r) for r in rows]]:
        typer.echo("   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
