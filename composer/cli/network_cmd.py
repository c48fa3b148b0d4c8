"""``composer network ls``: the project's networks with their subnets."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

network_app = typer.Typer(help="Inspect the project's networks.", no_args_is_help=True)


@network_app.command("ls")
def network_ls(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List the project's networks with bridge, subnets and gateways."""
    from composer.cli.context import options
    from composer.cli.tables import print_table
    from composer.verbs import views

    rows = views.network_ls(options(ctx).layout())
    if fmt == "json":
        typer.echo(json.dumps([asdict(r) for r in rows]))
        return
    print_table(
        ["NAME", "BRIDGE", "SUBNETS", "GATEWAYS"],
        [[r.Name, r.Bridge, ", ".join(r.Subnets), ", ".join(r.Gateways)] for r in rows],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
