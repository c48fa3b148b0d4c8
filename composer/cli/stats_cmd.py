"""``composer stats [SERVICE...] [--no-stream] [--format table|json|TEMPLATE] [-a]``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.verbs.stats import StatsRow

HEADERS = ["NAME", "SERVICE", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


def register(app: typer.Typer) -> None:
    @app.command("stats")
    def stats(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
        all_states: Annotated[bool, typer.Option("--all", "-a", help="Stopped containers too.")] = False,
        no_stream: Annotated[bool, typer.Option("--no-stream", help="One reading, then exit.")] = False,
        fmt: Annotated[str, typer.Option("--format", help="table, json, or a template.")] = "table",
        no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Accepted: nothing is truncated.")] = False,
        total: Annotated[bool, typer.Option("--total", help="Add a row for the whole project.")] = False,
    ) -> None:
        """Live resource use of the project's containers (CPU, memory, network, block I/O, pids)."""
        from composer.cli.context import options
        from composer.verbs import stats as verb

        del no_trunc
        opts = options(ctx)
        layout, host = opts.layout(), opts.host()
        try:
            while True:
                rows = verb.stats(layout, host, services or (), all_states=all_states, total=total,
                                  interval=0.5 if no_stream else 1.0)  # fmt: skip
                if not no_stream and sys.stdout.isatty():
                    sys.stdout.write("\x1b[2J\x1b[H")  # redraw in place, as docker does
                _print(rows, fmt)
                if no_stream:
                    return
        except KeyboardInterrupt:
            return


def _print(rows: Sequence[StatsRow], fmt: str) -> None:
    if fmt == "json":
        for row in rows:  # one object per line, as docker stats --format json
            typer.echo(json.dumps(asdict(row)))
        sys.stdout.flush()
        return
    if fmt == "table":
        from composer.cli.tables import print_table

        print_table(HEADERS, [list(asdict(r).values()) for r in rows])
        sys.stdout.flush()
        return
    from composer.cli.templates import TemplateError, render

    try:
        lines = render(fmt, [asdict(r) for r in rows])
    except TemplateError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    for line in lines:
        typer.echo(line)
