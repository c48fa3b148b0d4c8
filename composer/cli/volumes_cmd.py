"""``composer volumes [SERVICE...] [--format table|json|TEMPLATE] [-q]``: the project's volumes."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("volumes")
    def volumes(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only volumes these services use.")] = None,
        fmt: Annotated[str, typer.Option("--format", help="table, json, or a template.")] = "table",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the names.")] = False,
    ) -> None:
        """List the project's named volumes."""
        from composer.cli.context import options
        from composer.cli.tables import print_table
        from composer.verbs.views import volumes as list_volumes

        rows = list_volumes(options(ctx).layout(), services or ())
        if quiet:
            for row in rows:
                typer.echo(row.Name)
        elif fmt == "json":
            for row in rows:
                typer.echo(json.dumps(asdict(row)))
        elif fmt == "table":
            print_table(
                ["DRIVER", "VOLUME NAME", "MOUNTPOINT"], [[r.Driver, r.Name, r.Mountpoint] for r in rows]
            )
        else:
            from composer.cli.templates import TemplateError, render

            try:
                lines = render(fmt, [asdict(r) for r in rows])
            except TemplateError as error:
                raise typer.BadParameter(str(error), param_hint="--format") from None
            for line in lines:
                typer.echo(line)
